package runner

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel stop a child server when loadrig dies, so
// a crash never leaves a stray server behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
