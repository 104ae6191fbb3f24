package testinstance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clientID = "gokafka-testinstance"

// poll runs check until it succeeds, ctx ends, or one of procs exits (then
// the error carries that process's log tail). Each check gets at most 5s.
func poll(ctx context.Context, what string, procs []*proc, check func(context.Context) error) error {
	interval := 50 * time.Millisecond
	var last error
	for {
		for _, p := range procs {
			if !p.alive() {
				return p.exitError()
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("testinstance: gave up waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
		interval = min(interval*2, 500*time.Millisecond)
	}
}

// request sends one request to addr on a fresh connection.
func request(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	conn, err := wire.Dial(ctx, addr, wire.Options{ClientID: clientID})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Request(ctx, req)
}

// metadata asks addr about the brokers and the given topics (none when
// topics is empty; auto-creation is off).
func metadata(ctx context.Context, addr string, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	resp, err := request(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// brokersReady checks that every node in addrs answers Metadata listing all
// of ids and a controller, and that the group coordinator can be found.
func brokersReady(ctx context.Context, addrs []string, ids []int32) error {
	for _, addr := range addrs {
		m, err := metadata(ctx, addr)
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		var seen []int32
		for _, b := range m.Brokers {
			seen = append(seen, b.NodeID)
		}
		for _, id := range ids {
			if !slices.Contains(seen, id) {
				return fmt.Errorf("%s: metadata lists brokers %v, not yet %d", addr, seen, id)
			}
		}
		if m.ControllerID < 0 {
			return fmt.Errorf("%s: metadata shows no controller", addr)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	return findCoordinator(ctx, addrs[0], "gokafka-testinstance-ready")
}

// findCoordinator fails while the group coordinator for group is not
// available (e.g. __consumer_offsets is still being created).
func findCoordinator(ctx context.Context, addr, group string) error {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 0 // group
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	r, err := request(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	resp := r.(*kmsg.FindCoordinatorResponse)
	code, msg := resp.ErrorCode, resp.ErrorMessage
	if len(resp.Coordinators) > 0 { // v4+
		code, msg = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].ErrorMessage
	}
	if err := kerr.WithMessage(code, msg); err != nil {
		return fmt.Errorf("%s: FindCoordinator: %w", addr, err)
	}
	return nil
}

// waitKafka waits until every running node is ready (see brokersReady).
func (c *Cluster) waitKafka(ctx context.Context) error {
	addrs, ids, procs := c.running()
	if len(addrs) == 0 {
		return errors.New("testinstance: no broker is running")
	}
	return poll(ctx, fmt.Sprintf("brokers %v to be ready", ids), procs, func(ctx context.Context) error {
		return brokersReady(ctx, addrs, ids)
	})
}

// running returns the addresses, ids and processes of the live nodes.
func (c *Cluster) running() (addrs []string, ids []int32, procs []*proc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.proc != nil && n.proc.alive() {
			addrs = append(addrs, n.addr())
			ids = append(ids, n.id)
			procs = append(procs, n.proc)
		}
	}
	return addrs, ids, procs
}
