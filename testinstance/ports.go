package testinstance

import (
	"fmt"
	"net"
	"strconv"
)

// host is the only address the cluster listens on and advertises.
const host = "127.0.0.1"

func hostPort(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// freePorts asks the kernel for n distinct free ports on 127.0.0.1. They are
// released before the caller binds them, so another process may take one in
// between; Start notices (ErrPortInUse) and tries again with new ports.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", hostPort(0))
		if err != nil {
			return nil, fmt.Errorf("testinstance: finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// checkPortsFree returns a *PortInUseError for the first port that cannot be
// bound (used before restarting a node on its old ports).
func checkPortsFree(ports ...int) error {
	for _, p := range ports {
		l, err := net.Listen("tcp", hostPort(p))
		if err != nil {
			return &PortInUseError{Addr: hostPort(p), Err: err}
		}
		l.Close()
	}
	return nil
}
