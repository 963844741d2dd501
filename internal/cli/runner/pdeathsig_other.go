//go:build !linux

package runner

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
