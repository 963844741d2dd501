// Package profilescmd is `loadrig profiles`: list the built-in profiles,
// show one's YAML, and validate a profile file against the commands' own
// flags without running anything.
package profilescmd
