package testinstance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cluster is a running local cluster started by Start, or a handle on an
// external one (see FromEnv). Its methods are safe for concurrent use.
type Cluster struct {
	cfg       Config
	java      string
	kafkaLib  string
	zkLib     string
	dir       string
	clusterID string
	reaper    *reaper
	ca        *CA // of the TLS listeners (security.go), nil without

	external        bool
	externalAddrs   []string
	externalZK      string
	externalVersion string // BROKERS_KAFKA_VERSION, or ""

	mu     sync.Mutex // guards the procs of nodes and zk, and closed
	nodes  []*kafkaNode
	zk     *zkNode // nil without ZooKeeper
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// Start resolves the jars (downloading them on first use), then starts
// cfg.Brokers KRaft nodes and, unless cfg.NoZooKeeper, one ZooKeeper, all on
// 127.0.0.1 on free ports with their data in one new temporary directory. It
// returns once every broker answers Metadata listing all brokers, the group
// coordinator is available, and ZooKeeper serves.
//
// The caller must Close the cluster. On error nothing is left running.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	java, err := findJava(cfg.Java)
	if err != nil {
		return nil, err
	}
	kafkaLib, zkLib, err := resolveAll(ctx, cfg)
	if err != nil {
		return nil, err
	}
	resolved := time.Now()
	for attempt := 1; ; attempt++ {
		c := &Cluster{cfg: cfg, java: java, kafkaLib: kafkaLib, zkLib: zkLib}
		err := c.start(ctx)
		if err == nil {
			cfg.logf("cluster ready in %s (jars %s, start %s): brokers %s, zookeeper %s, dir %s",
				time.Since(began).Round(time.Millisecond), resolved.Sub(began).Round(time.Millisecond),
				time.Since(resolved).Round(time.Millisecond), c.BootstrapServers(), c.ZooKeeper(), c.dir)
			return c, nil
		}
		c.Close()
		// The free ports were released before the JVMs bound them; another
		// process may have taken one. Try again with new ports.
		if errors.Is(err, ErrPortInUse) && attempt < 3 && ctx.Err() == nil {
			cfg.logf("a port was taken, retrying with new ports: %v", firstLine(err.Error()))
			continue
		}
		return nil, err
	}
}

func (c *Cluster) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := c.makeDir(); err != nil {
		return err
	}
	n := c.cfg.Brokers
	ports, err := freePorts(2*n + 1 + n*c.cfg.Security.numListeners())
	if err != nil {
		return err
	}
	c.clusterID = newClusterID()
	for i := range n {
		c.nodes = append(c.nodes, &kafkaNode{
			index: i, id: int32(i + 1),
			port: ports[2*i], controllerPort: ports[2*i+1],
			dir: filepath.Join(c.dir, "kafka-"+strconv.Itoa(i+1)),
		})
	}
	c.assignListenerPorts(ports[2*n+1:])
	if err := c.prepareSecurity(); err != nil {
		return err
	}
	// ZooKeeper starts and becomes ready alongside the brokers.
	zkErr := make(chan error, 1)
	if c.cfg.NoZooKeeper {
		zkErr <- nil
	} else {
		c.zk = &zkNode{port: ports[2*n], dir: filepath.Join(c.dir, "zookeeper")}
		go func() {
			t0 := time.Now()
			err := c.startZooKeeper(ctx)
			if err == nil {
				c.cfg.logf("zookeeper ready in %s", time.Since(t0).Round(time.Millisecond))
			}
			zkErr <- err
		}()
	}
	// Format and start each node in parallel; then wait for all of them.
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for i, node := range c.nodes {
		wg.Go(func() {
			if err := c.prepareNode(ctx, node, c.clusterID); err != nil {
				errs[i] = err
				return
			}
			c.cfg.logf("%s formatted in %s", node.name(), time.Since(t0).Round(time.Millisecond))
			errs[i] = c.launch(node)
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	if err == nil {
		err = c.waitKafka(ctx)
	}
	if err == nil {
		c.cfg.logf("brokers ready %s after formatting began", time.Since(t0).Round(time.Millisecond))
	} else {
		cancel() // stop waiting for ZooKeeper
	}
	if zerr := <-zkErr; err == nil && zerr != nil {
		err = zerr
	}
	return err
}

// makeDir creates the cluster's temporary directory and the reaper that
// removes it if this process dies without Close.
func (c *Cluster) makeDir() error {
	sweepStaleClusters(c.cfg.TempDir)
	dir, err := os.MkdirTemp(c.cfg.TempDir, clusterDirPrefix)
	if err != nil {
		return fmt.Errorf("testinstance: temp dir: %w", err)
	}
	c.dir = dir
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(c.log4jPath(), []byte(log4j2Properties), 0o644); err != nil {
		return err
	}
	if err := os.Mkdir(c.jvmTmp(), 0o755); err != nil {
		return err
	}
	c.reaper = startReaper(dir)
	return nil
}

// launch starts node's JVM and records it, unless the cluster was closed.
func (c *Cluster) launch(n *kafkaNode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	p, err := c.startNode(n)
	if err != nil {
		return err
	}
	n.proc = p
	recordPgid(c.dir, p)
	return nil
}

// BootstrapServers returns the PLAINTEXT addresses of all brokers, comma
// separated, as the bootstrap list of a client.
func (c *Cluster) BootstrapServers() string { return strings.Join(c.Brokers(), ",") }

// Brokers returns the PLAINTEXT address (127.0.0.1:port) of each broker, in
// index order. Addresses do not change when a broker restarts.
func (c *Cluster) Brokers() []string {
	if c.external {
		return append([]string(nil), c.externalAddrs...)
	}
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	return addrs
}

// Broker returns the address of broker i (0-based index).
func (c *Cluster) Broker(i int) string { return c.Brokers()[i] }

// NumBrokers returns the number of brokers, running or not.
func (c *Cluster) NumBrokers() int { return len(c.Brokers()) }

// NodeIDs returns the Kafka node.id of each broker, in index order (1..N for
// a cluster from Start; from a Metadata request for an external cluster).
func (c *Cluster) NodeIDs() []int32 {
	if c.external {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, addr := range c.externalAddrs {
			if m, err := metadata(ctx, addr); err == nil {
				ids := make([]int32, len(m.Brokers))
				for i, b := range m.Brokers {
					ids[i] = b.NodeID
				}
				return ids
			}
		}
		return nil
	}
	ids := make([]int32, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = n.id
	}
	return ids
}

// ZooKeeper returns ZooKeeper's address (127.0.0.1:port), or "" if the
// cluster has none.
func (c *Cluster) ZooKeeper() string {
	if c.external {
		return c.externalZK
	}
	if c.zk == nil {
		return ""
	}
	return c.zk.addr()
}

// Dir returns the cluster's temporary directory (configurations, data and a
// log per node), or "" for an external cluster.
func (c *Cluster) Dir() string { return c.dir }

// LogFile returns the path of broker i's log (stdout and stderr of its JVM,
// across restarts).
func (c *Cluster) LogFile(i int) string {
	if c.external {
		return ""
	}
	return c.nodes[i].logPath()
}

// KafkaVersion returns the Kafka version the cluster runs; for an external
// cluster, what BROKERS_KAFKA_VERSION said when it was found ("" if unset).
func (c *Cluster) KafkaVersion() string {
	if c.external {
		return c.externalVersion
	}
	return c.cfg.KafkaVersion
}

// External reports whether the cluster was not started by this package.
func (c *Cluster) External() bool { return c.external }

// Close kills every process of the cluster (SIGKILL: the data is thrown
// away, so a graceful shutdown buys nothing) and removes its directory. It is
// idempotent; on an external cluster it does nothing.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		if c.external {
			return
		}
		c.mu.Lock()
		c.closed = true
		var procs []*proc
		for _, n := range c.nodes {
			if n.proc != nil {
				procs = append(procs, n.proc)
				n.proc = nil
			}
		}
		if c.zk != nil && c.zk.proc != nil {
			procs = append(procs, c.zk.proc)
			c.zk.proc = nil
		}
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Go(p.kill)
		}
		wg.Wait()
		if c.dir != "" {
			c.closeErr = os.RemoveAll(c.dir)
		}
		c.reaper.stop()
	})
	return c.closeErr
}
