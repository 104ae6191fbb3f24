package testhelp

import (
	"bufio"
	"os"
	"os/exec"
	"testing"

	"github.com/gokafka/kafka/testinstance"
)

// Child is the test binary started again as a process that runs no test
// (-test.run=^$): the package's TestMain sees its variable and plays a
// part there (a group member that the test kills with SIGKILL, as a crash
// would).
type Child struct {
	cmd *exec.Cmd
	// Lines reads the child's standard output, a line at a time.
	Lines *bufio.Scanner
}

// StartChild starts the child with env=value and BROKERS set to the shared
// cluster's (which may be this process's own, started by TestMain, rather
// than one from the environment). The test's end kills it if Kill did not.
func StartChild(t testing.TB, env, value string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BROKERS="+testinstance.Shared().BootstrapServers(), env+"="+value)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd, Lines: bufio.NewScanner(out)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return c
}

// Kill ends the child with SIGKILL and waits for it to exit.
func (c *Child) Kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait() // the error says "killed"
}
