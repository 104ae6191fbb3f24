package testinstance

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var zkJVMFlags = []string{
	"-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
	"-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData",
	"-Djava.net.preferIPv4Stack=true", "-Djava.awt.headless=true",
	"-Dzookeeper.admin.enableServer=false",
	"-Dorg.slf4j.simpleLogger.showDateTime=true",
	"-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS",
}

// zkNode is the standalone ZooKeeper. Port and data survive restarts.
type zkNode struct {
	port int
	dir  string
	proc *proc // nil while stopped; guarded by Cluster.mu
}

func (z *zkNode) addr() string       { return hostPort(z.port) }
func (z *zkNode) configPath() string { return filepath.Join(z.dir, "zoo.cfg") }
func (z *zkNode) logPath() string    { return filepath.Join(z.dir, "zookeeper.log") }

func (z *zkNode) writeConfig() error {
	if err := os.MkdirAll(filepath.Join(z.dir, "data"), 0o755); err != nil {
		return err
	}
	return writeProperties(z.configPath(), map[string]string{
		"tickTime":               "500",
		"dataDir":                filepath.Join(z.dir, "data"),
		"clientPort":             strconv.Itoa(z.port),
		"clientPortAddress":      host,
		"maxClientCnxns":         "0",
		"admin.enableServer":     "false",
		"4lw.commands.whitelist": "srvr,ruok,stat,mntr",
		"forceSync":              "no",
		"preAllocSize":           "4096",
	})
}

func (c *Cluster) startZooKeeperProc() (*proc, error) {
	z := c.zk
	args := append(append([]string{}, zkJVMFlags...),
		"-Djava.io.tmpdir="+c.jvmTmp(),
		"-cp", filepath.Join(c.zkLib, "*"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", z.configPath())
	return startProc(c.cfg, "zookeeper", z.logPath(), c.java, args)
}

// waitZooKeeper polls `srvr` until ZooKeeper says it serves standalone. The
// port opens before the database is loaded, so an open port is not enough.
func waitZooKeeper(ctx context.Context, z *zkNode, p *proc) error {
	return poll(ctx, "ZooKeeper "+z.addr()+" to serve", []*proc{p}, func(ctx context.Context) error {
		out, err := FourLetterWord(ctx, z.addr(), "srvr")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Mode: standalone") {
			return fmt.Errorf("srvr answered %q", firstLine(out))
		}
		return nil
	})
}

// FourLetterWord sends one of ZooKeeper's four-letter commands (srvr, ruok,
// stat, mntr are enabled here) to addr and returns the reply.
func FourLetterWord(ctx context.Context, addr, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return string(b), err
	}
	return string(b), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
