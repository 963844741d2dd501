package rediscache

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill a spawned redis-server when this
// process dies, so a crash never leaves a stray server behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
