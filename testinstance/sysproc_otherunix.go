//go:build unix && !linux

package testinstance

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in its own process group. There is no
// parent-death signal outside Linux: a Go process killed with SIGKILL leaves
// its Java children running there.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
