package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"mem_bytes"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Java     string `json:"java"`
	Kafka    string `json:"kafka"`
	LoadAvg  string `json:"loadavg_at_start"`
	// PageReporting is the VM's free page reporting, "" without it (see
	// pageReporting).
	PageReporting string `json:"page_reporting,omitempty"`
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemBytes, _ = meminfoField(string(raw), "MemTotal")
	}
	m.PageReporting = pageReporting()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		m.Java = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	}
	return m
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// gitCommit is the gokafka commit measured, with "+dirty" when the work
// tree (outside bench/) has uncommitted changes: the engines change often,
// and a figure is worth only as much as knowing what it measured.
func gitCommit() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	// Untracked source counts (a package not yet committed is still
	// compiled in); test files do not.
	st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--", ".", ":!bench").Output()
	if err != nil {
		return c
	}
	for _, l := range strings.Split(string(st), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasSuffix(l, "_test.go") {
			return c + "+dirty"
		}
	}
	return c
}

// meminfoField reads one "Name: N kB" line of /proc/meminfo, in bytes.
func meminfoField(meminfo, name string) (int64, error) {
	for _, l := range strings.Split(meminfo, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == name+":" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("meminfo %s: %w", name, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("meminfo: no %s line", name)
}

// pageReporting describes the machine's free page reporting, or "" when
// it has none: with it, memory the kernel frees goes back to the host,
// and the next use of it costs a fault there.
func pageReporting() string {
	raw, err := os.ReadFile("/sys/module/page_reporting/parameters/page_reporting_order")
	if err != nil {
		return ""
	}
	return "on (page_reporting_order " + strings.TrimSpace(string(raw)) + ")"
}
