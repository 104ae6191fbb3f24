package testinstance

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// setProcessGroup puts the child in its own process group (so a terminal's
// Ctrl-C reaches only us, and we decide how the child stops) and asks the
// kernel to SIGKILL it when its parent dies.
//
// Pdeathsig fires when the parent *thread* exits, not the process. Go may
// retire an OS thread at any time, so every child is started from one
// goroutine locked to its thread for the life of the process: see startCmd.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

type spawnOp struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnOp
)

// startCmd starts cmd from the dedicated spawner thread.
func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnOp)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for op := range spawnCh {
				op.done <- op.cmd.Start()
			}
		}()
	})
	op := spawnOp{cmd: cmd, done: make(chan error, 1)}
	spawnCh <- op
	return <-op.done
}
