package testinstance

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	clusterDirPrefix = "gokafka-cluster-"
	ownerFile        = "owner.pid" // pid of the Go process that owns the directory
	pgidFile         = "pgids"     // process groups of every JVM ever started, for the reaper
)

// recordPgid appends the process group of p (its pid: every child leads its
// own group) to dir/pgids, which the reaper reads.
func recordPgid(dir string, p *proc) {
	f, err := os.OpenFile(filepath.Join(dir, pgidFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, p.cmd.Process.Pid)
	f.Close()
}

// sweepStaleClusters removes cluster directories whose owning process is
// gone, which the reaper should already have done; this is the fallback for
// a reaper that was itself killed.
func sweepStaleClusters(tempDir string) {
	dirs, _ := filepath.Glob(filepath.Join(tempDir, clusterDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			// Not ours yet (being created) or foreign: only old ones go.
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(d)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.RemoveAll(d)
	}
}
