package testinstance

import (
	"context"
	"fmt"
	"time"
)

// node returns broker i, or an error for an external cluster or a bad index.
func (c *Cluster) node(i int) (*kafkaNode, error) {
	if c.external {
		return nil, ErrExternalCluster
	}
	if i < 0 || i >= len(c.nodes) {
		return nil, fmt.Errorf("testinstance: broker index %d out of range [0, %d)", i, len(c.nodes))
	}
	return c.nodes[i], nil
}

// take detaches and returns the process of broker i (nil if not running).
func (c *Cluster) take(i int) (*proc, error) {
	n, err := c.node(i)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p := n.proc
	n.proc = nil
	return p, nil
}

// StopBroker shuts broker i (0-based index) down gracefully: SIGTERM, then
// SIGKILL if it has not exited after Config.StopTimeout or when ctx ends. A
// graceful stop moves partition leadership away first (controlled
// shutdown); a node whose KRaft quorum is gone may hang and get SIGKILL.
// Stopping a stopped broker does nothing.
func (c *Cluster) StopBroker(ctx context.Context, i int) error {
	p, err := c.take(i)
	if err != nil || p == nil {
		return err
	}
	t0 := time.Now()
	if p.stop(ctx, c.cfg.StopTimeout) {
		c.cfg.logf("%s stopped in %s", c.nodes[i].name(), time.Since(t0).Round(time.Millisecond))
	} else {
		c.cfg.logf("%s did not stop within %s: killed", c.nodes[i].name(), c.cfg.StopTimeout)
	}
	return nil
}

// KillBroker kills broker i with SIGKILL, like a crash: no controlled
// shutdown, the others notice when its session times out
// (broker.session.timeout.ms, 6s here).
func (c *Cluster) KillBroker(i int) error {
	p, err := c.take(i)
	if err != nil || p == nil {
		return err
	}
	p.kill()
	return nil
}

// StartBroker restarts broker i with its node id, ports and data, and waits
// until every running broker lists it (and each other) in Metadata and the
// group coordinator is available. Starting a running broker just waits.
func (c *Cluster) StartBroker(ctx context.Context, i int) error {
	n, err := c.node(i)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if n.proc == nil || !n.proc.alive() {
		if err := checkPortsFree(append([]int{n.port, n.controllerPort}, n.listenerPorts...)...); err != nil {
			c.mu.Unlock()
			return err
		}
		p, err := c.startNode(n)
		if err != nil {
			c.mu.Unlock()
			return err
		}
		n.proc = p
		recordPgid(c.dir, p)
	}
	c.mu.Unlock()
	t0 := time.Now()
	if err := c.waitKafka(ctx); err != nil {
		return err
	}
	c.cfg.logf("%s started, all running brokers ready in %s", n.name(), time.Since(t0).Round(time.Millisecond))
	return nil
}

// WaitReady waits until every running broker is ready, as Start does.
func (c *Cluster) WaitReady(ctx context.Context) error {
	if c.external {
		return poll(ctx, "external brokers to be ready", nil, func(ctx context.Context) error {
			return brokersReady(ctx, c.externalAddrs, nil)
		})
	}
	return c.waitKafka(ctx)
}

// StopZooKeeper stops ZooKeeper (SIGTERM, then SIGKILL after
// Config.StopTimeout). Its port and data are kept for StartZooKeeper.
func (c *Cluster) StopZooKeeper(ctx context.Context) error {
	p, err := c.takeZooKeeper()
	if err != nil || p == nil {
		return err
	}
	t0 := time.Now()
	if p.stop(ctx, c.cfg.StopTimeout) {
		c.cfg.logf("zookeeper stopped in %s", time.Since(t0).Round(time.Millisecond))
	} else {
		c.cfg.logf("zookeeper did not stop within %s: killed", c.cfg.StopTimeout)
	}
	return nil
}

// KillZooKeeper kills ZooKeeper with SIGKILL.
func (c *Cluster) KillZooKeeper() error {
	p, err := c.takeZooKeeper()
	if err != nil || p == nil {
		return err
	}
	p.kill()
	return nil
}

func (c *Cluster) takeZooKeeper() (*proc, error) {
	if c.external {
		return nil, ErrExternalCluster
	}
	if c.zk == nil {
		return nil, ErrNoZooKeeper
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p := c.zk.proc
	c.zk.proc = nil
	return p, nil
}

// StartZooKeeper starts ZooKeeper again on the same port with the same data
// and waits until it serves (`srvr` says standalone). Starting a running
// ZooKeeper just waits.
func (c *Cluster) StartZooKeeper(ctx context.Context) error {
	if c.external {
		return ErrExternalCluster
	}
	if c.zk == nil {
		return ErrNoZooKeeper
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	t0 := time.Now()
	if err := c.startZooKeeper(ctx); err != nil {
		return err
	}
	c.cfg.logf("zookeeper serving in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// startZooKeeper writes the configuration (first start only), launches
// ZooKeeper unless it runs, and waits until it serves.
func (c *Cluster) startZooKeeper(ctx context.Context) error {
	z := c.zk
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if z.proc == nil || !z.proc.alive() {
		if err := z.writeConfig(); err != nil {
			c.mu.Unlock()
			return err
		}
		if err := checkPortsFree(z.port); err != nil {
			c.mu.Unlock()
			return err
		}
		p, err := c.startZooKeeperProc()
		if err != nil {
			c.mu.Unlock()
			return err
		}
		z.proc = p
		recordPgid(c.dir, p)
	}
	p := z.proc
	c.mu.Unlock()
	return waitZooKeeper(ctx, z, p)
}
