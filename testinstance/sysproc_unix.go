//go:build unix && !linux

package testinstance

import (
	"os"
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

// signalGroup sends SIGKILL (kill) or SIGTERM to the process group of p.
func signalGroup(p *os.Process, kill bool) error {
	if p == nil {
		return nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
