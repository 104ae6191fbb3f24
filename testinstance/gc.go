package testinstance

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Every broker JVM logs its garbage collections (-Xlog:gc) to a file of its
// own in the node's directory, gc-<pid>.log, one line per collection:
//
//	[2026-12-06T02:45:01.123+0000] GC(5) Pause Young (Allocation Failure) 115M->49M(247M) 23.158ms
//
// A stop-the-world pause stops the whole broker: it answers nothing, and as
// a follower it fetches nothing, so with acks=all every partition it
// replicates waits for it. Latency measurements read these pauses
// (GCPauses) to tell the brokers' stalls from the client's.

// gcLogPattern is the -Xlog file name inside a node's directory; the JVM
// replaces %p with its pid, so a restarted node starts a new file.
const gcLogPattern = "gc-%p.log"

// gcLogFlag is the JVM flag that writes node n's GC log.
func gcLogFlag(n *kafkaNode) string {
	return "-Xlog:gc:file=" + filepath.Join(n.dir, gcLogPattern) + ":utctime"
}

// gcTimeLayout is the utctime decoration of -Xlog.
const gcTimeLayout = "2006-01-02T15:04:05.000-0700"

// GCPause is one stop-the-world garbage-collection pause of a broker's JVM.
type GCPause struct {
	Broker int32         // node.id
	End    time.Time     // when the pause ended (the log line's time, millisecond precision)
	Took   time.Duration // how long the broker stood still
	Kind   string        // the collector's words, e.g. "Pause Young (Allocation Failure)"
}

// Start is when the pause began.
func (p GCPause) Start() time.Time { return p.End.Add(-p.Took) }

// GCPauses returns the brokers' garbage-collection pauses that overlap the
// interval [from, to], in the order they ended. A JVM writes a line once a
// pause is over, so a pause still going on at the call is missing. On an
// external cluster it returns ErrExternalCluster.
func (c *Cluster) GCPauses(from, to time.Time) ([]GCPause, error) {
	if c.external {
		return nil, ErrExternalCluster
	}
	var all []GCPause
	for _, n := range c.nodes {
		files, err := filepath.Glob(filepath.Join(n.dir, "gc-*.log"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			ps, err := readGCLog(f, n.id)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !p.End.Before(from) && !p.Start().After(to) {
					all = append(all, p)
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b GCPause) int { return a.End.Compare(b.End) })
	return all, nil
}

// readGCLog reads the pauses of one GC log.
func readGCLog(path string, broker int32) ([]GCPause, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []GCPause
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := parseGCLine(sc.Text()); ok {
			p.Broker = broker
			out = append(out, p)
		}
	}
	return out, sc.Err()
}

// parseGCLine reads a pause from a line of a -Xlog:gc log with the utctime
// decoration; other lines (concurrent phases, which do not stop the
// broker, and anything unexpected) are not pauses.
func parseGCLine(line string) (GCPause, bool) {
	stamp, rest, ok := strings.Cut(strings.TrimPrefix(line, "["), "] ")
	if !ok {
		return GCPause{}, false
	}
	end, err := time.Parse(gcTimeLayout, stamp)
	if err != nil {
		return GCPause{}, false
	}
	_, rest, ok = strings.Cut(rest, ") ") // "GC(5) "
	if !ok || !strings.HasPrefix(rest, "Pause ") {
		return GCPause{}, false
	}
	i := strings.LastIndexByte(rest, ' ')
	if i < 0 {
		return GCPause{}, false
	}
	ms, found := strings.CutSuffix(rest[i+1:], "ms")
	if !found {
		return GCPause{}, false
	}
	v, err := strconv.ParseFloat(ms, 64)
	if err != nil || v < 0 {
		return GCPause{}, false
	}
	kind := rest[:i]
	if j := strings.LastIndexByte(kind, ' '); j >= 0 && strings.Contains(kind[j:], "->") {
		kind = kind[:j] // the heap before and after
	}
	return GCPause{End: end, Took: time.Duration(v * float64(time.Millisecond)), Kind: kind}, true
}
