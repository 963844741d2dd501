// Package cli is loadrig's command line: Main builds the command tree
// (NewCmdRoot), runs it, and maps every error to an exit code in one place.
//
// Exit codes: 0 ok, 1 error, 2 usage or bad input, 3 threshold or regression
// breached, 130 interrupted. Cobra's own error and usage printing is
// silenced; Main prints one line per error to stderr.
//
// This is the only place where the two halves of loadrig (the reference
// servers and the load instrument) meet; nothing imports cli.
package cli
