package testinstance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// proc is one running Java process (a Kafka node, ZooKeeper, or a one-shot
// tool). Its stdout and stderr go to logPath (appended, so a restarted node
// keeps one log), and to cfg.ProcessLog when set.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // exit status; read only after done is closed
}

// startProc starts java with args. The child gets its own process group and,
// on Linux, dies with the Go process.
func startProc(cfg Config, name, logPath, java string, args []string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== testinstance: starting %s at %s\n=== %s %q\n", name, time.Now().Format(time.RFC3339Nano), java, args)
	cmd := exec.Command(java, args...)
	cmd.Env = os.Environ()
	if cfg.ProcessLog != nil {
		w := io.MultiWriter(f, &prefixWriter{w: cfg.ProcessLog, prefix: "[" + name + "] "})
		cmd.Stdout, cmd.Stderr = w, w
	} else {
		cmd.Stdout, cmd.Stderr = f, f
	}
	setProcessGroup(cmd)
	if err := startCmd(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("testinstance: starting %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitError describes an exited process together with its log tail.
func (p *proc) exitError() error {
	<-p.done
	err := p.err
	if err == nil {
		err = fmt.Errorf("exit status 0")
	}
	return &ProcessExitError{Name: p.name, Err: err, LogFile: p.logPath, LogTail: logTail(p.logPath, 40)}
}

// kill sends SIGKILL to the process group and waits until it is reaped.
func (p *proc) kill() {
	signalGroup(p.cmd.Process, true)
	<-p.done
}

// stop sends SIGTERM, waits up to timeout (or until ctx ends), then SIGKILL.
// It reports whether the process exited by itself.
func (p *proc) stop(ctx context.Context, timeout time.Duration) (graceful bool) {
	if !p.alive() {
		return true
	}
	signalGroup(p.cmd.Process, false)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	p.kill()
	return false
}

// runTool runs a one-shot Java program to completion, returning a
// *ProcessExitError with its log tail if it fails.
func runTool(ctx context.Context, cfg Config, name, logPath, java string, args []string) error {
	p, err := startProc(cfg, name, logPath, java, args)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("testinstance: %s: %w", name, ctx.Err())
	}
	if p.err != nil {
		return p.exitError()
	}
	return nil
}

// logTail returns the last n lines of the file at path (reading at most its
// last 64 KiB).
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return lastLines(string(b), n)
}

// syncWriter serializes writes to a writer shared by goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newSyncWriter(w io.Writer) io.Writer {
	if _, ok := w.(*syncWriter); ok || w == io.Discard {
		return w
	}
	return &syncWriter{w: w}
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// prefixWriter writes complete lines to w, each starting with prefix.
// Exec copies a process's output from one goroutine, so no locking here;
// w itself is a syncWriter.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := make([]byte, 0, len(p.prefix)+i+1)
		line = append(append(line, p.prefix...), p.buf[:i+1]...)
		p.w.Write(line) // output errors must not kill the child's pipe
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) > 64<<10 { // a huge line without newline: flush it
		p.w.Write(append([]byte(p.prefix), append(p.buf, '\n')...))
		p.buf = p.buf[:0]
	}
	return len(b), nil
}
