// Package report is `loadrig report FILE...`: it renders saved result files
// (text, Markdown or JSON) with internal/report, the same renderer `loadrig
// load` prints its summary with. Several files render side by side, each
// column labelled by the result's name or, failing that, its file name.
package report
