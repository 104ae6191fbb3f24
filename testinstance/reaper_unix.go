//go:build unix

package testinstance

import (
	"os"
	"os/exec"
	"syscall"
)

// reaperScript waits for EOF on stdin, which comes when the Go process that
// holds the pipe's write end dies (however it dies: panic, os.Exit, SIGKILL),
// then kills every JVM group the cluster started and removes its directory.
// Close kills the reaper before it reads EOF.
const reaperScript = `cat >/dev/null
if [ -f "$1/pgids" ]; then
  for g in $(cat "$1/pgids"); do kill -9 -- "-$g" 2>/dev/null; done
  sleep 1
fi
rm -rf "$1"
`

// reaper is a /bin/sh child that cleans up after this process if it dies
// without Close.
type reaper struct {
	cmd  *exec.Cmd
	pipe *os.File // write end; never written, closed only by process death
}

func startReaper(dir string) *reaper {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "gokafka-testinstance-reaper", dir)
	cmd.Stdin = r
	// Its own process group (a terminal's Ctrl-C must not stop it), and no
	// parent-death signal: it has to outlive us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil
	}
	r.Close()
	return &reaper{cmd: cmd, pipe: w}
}

// stop kills the reaper without letting it clean up (Close does that).
func (r *reaper) stop() {
	if r == nil {
		return
	}
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	r.cmd.Wait()
	r.pipe.Close()
}
