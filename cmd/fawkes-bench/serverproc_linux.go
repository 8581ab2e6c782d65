package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel send SIGTERM to a started server if this
// process dies without stopping it (kill -9, a crash).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
