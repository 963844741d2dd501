//go:build !linux

package rediscache

import "os/exec"

// setPdeathsig is Linux-only; elsewhere Close is the only way the child stops.
func setPdeathsig(*exec.Cmd) {}
