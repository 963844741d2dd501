// Package report is `loadrig report FILE|DIR...`: it renders saved result
// files in any of internal/report's formats, the same renderer `loadrig
// load` prints its summary with, and judges them against --threshold rules.
// Several files render side by side, each column labelled by the result's
// name or, failing that, its file name.
//
// It also holds what every judging command shares: Gate (--threshold and
// --junit; a breach is a ThresholdError, exit 3, after everything is
// written; verdicts appended to $GITHUB_STEP_SUMMARY) and LoadPaths (result
// files, directories searched recursively, summary.json files).
package report
