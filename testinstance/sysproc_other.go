//go:build !unix

package testinstance

import (
	"os"
	"os/exec"
)

func setProcessGroup(cmd *exec.Cmd) {}

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

// signalGroup kills p; there is no graceful signal here.
func signalGroup(p *os.Process, kill bool) error {
	if p == nil {
		return nil
	}
	return p.Kill()
}

// processAlive answers true: stale directories are then kept, never wrongly removed.
func processAlive(pid int) bool { return true }
