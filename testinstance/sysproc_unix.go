//go:build unix

package testinstance

import (
	"os"
	"syscall"
)

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

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
