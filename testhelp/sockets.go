package testhelp

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BrokerSockets counts this process's established TCP connections to the
// given broker addresses ("host:port"), by port, as ss would show them:
// the process's socket inodes (/proc/self/fd) matched with the kernel's
// connection tables (/proc/self/net/tcp and tcp6). Linux only.
func BrokerSockets(t testing.TB, brokers []string) int {
	t.Helper()
	ports := map[uint64]bool{}
	for _, b := range brokers {
		_, p, err := net.SplitHostPort(b)
		if err != nil {
			t.Fatalf("broker address %q: %v", b, err)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			t.Fatalf("broker address %q: %v", b, err)
		}
		ports[n] = true
	}
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting sockets: %v", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		c, err := countConnections(table, ports, inodes)
		if err != nil {
			t.Fatalf("counting sockets: %v", err)
		}
		n += c
	}
	return n
}

// countConnections counts the established connections of table (the
// kernel's text format: local and remote address as hex ip:port, state
// 01 for ESTABLISHED, the socket's inode in the tenth column) whose
// remote port is in ports and whose inode is in inodes.
func countConnections(table string, ports map[uint64]bool, inodes map[string]bool) (int, error) {
	f, err := os.Open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "01" {
			continue
		}
		remote := fields[2]
		i := strings.LastIndexByte(remote, ':')
		if i < 0 {
			return 0, fmt.Errorf("%s: remote address %q", table, remote)
		}
		port, err := strconv.ParseUint(remote[i+1:], 16, 16)
		if err != nil {
			return 0, fmt.Errorf("%s: remote address %q: %w", table, remote, err)
		}
		if ports[port] && inodes[fields[9]] {
			n++
		}
	}
	return n, sc.Err()
}
