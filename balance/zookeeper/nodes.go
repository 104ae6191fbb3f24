package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
)

// The member's ZooKeeper calls, each with a deadline (see do). They use the
// current session; the caller checks that there is one.

var acl = zk.WorldACL(zk.PermAll) // the old consumer's nodes are open too

func (m *Member) create(ctx context.Context, path string, data []byte, flags int32) error {
	_, err := do(ctx, m.sess, m.opTimeout(), &m.reconcile, "create", path, func(c *zk.Conn) (string, error) {
		return c.Create(path, data, flags, acl)
	})
	return err
}

type nodeData struct {
	data []byte
	stat *zk.Stat
}

func (m *Member) get(ctx context.Context, path string) ([]byte, *zk.Stat, error) {
	r, err := do(ctx, m.sess, m.opTimeout(), &m.reconcile, "get", path, func(c *zk.Conn) (nodeData, error) {
		d, st, err := c.Get(path)
		return nodeData{d, st}, err
	})
	return r.data, r.stat, err
}

type watchedData struct {
	data  []byte
	stat  *zk.Stat
	watch <-chan zk.Event
}

func (m *Member) getW(ctx context.Context, path string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	r, err := do(ctx, m.sess, m.opTimeout(), &m.reconcile, "get+watch", path, func(c *zk.Conn) (watchedData, error) {
		d, st, w, err := c.GetW(path)
		return watchedData{d, st, w}, err
	})
	return r.data, r.stat, r.watch, err
}

// exists returns the node's Stat, or nil if there is no such node.
func (m *Member) exists(ctx context.Context, path string) (*zk.Stat, error) {
	return do(ctx, m.sess, m.opTimeout(), &m.reconcile, "exists", path, func(c *zk.Conn) (*zk.Stat, error) {
		ok, st, err := c.Exists(path)
		if !ok {
			st = nil
		}
		return st, err
	})
}

func (m *Member) delete(ctx context.Context, path string, version int32) error {
	_, err := do(ctx, m.sess, m.opTimeout(), &m.reconcile, "delete", path, func(c *zk.Conn) (struct{}, error) {
		return struct{}{}, c.Delete(path, version)
	})
	return err
}

func (m *Member) children(ctx context.Context, path string) ([]string, error) {
	return do(ctx, m.sess, m.opTimeout(), &m.reconcile, "children", path, func(c *zk.Conn) ([]string, error) {
		ch, _, err := c.Children(path)
		return ch, err
	})
}

type watched struct {
	children []string
	watch    <-chan zk.Event
}

func (m *Member) childrenW(ctx context.Context, path string) ([]string, <-chan zk.Event, error) {
	r, err := do(ctx, m.sess, m.opTimeout(), &m.reconcile, "children+watch", path, func(c *zk.Conn) (watched, error) {
		ch, _, w, err := c.ChildrenW(path)
		return watched{ch, w}, err
	})
	return r.children, r.watch, err
}

// ensurePath creates path and its parents as persistent nodes; nodes that
// exist already (another member made them first) are fine.
func (m *Member) ensurePath(ctx context.Context, path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		err := m.create(ctx, path[:i], nil, 0)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// register creates the member's ephemeral ids node, whose data is its
// subscription. A node left by one of the member's earlier sessions is
// replaced; one held by a foreign session is ErrConsumerIDInUse.
func (m *Member) register() error {
	ctx := m.ctx
	data := registrationData(m.cfg.Subscription, time.Now())
	for attempt := 0; attempt < 3; attempt++ {
		err := m.create(ctx, m.idPath, data, zk.FlagEphemeral)
		switch {
		case err == nil:
			m.log.Info("zookeeper group: registered", "path", m.idPath)
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := m.ensurePath(ctx, m.idsDir); err != nil {
				return err
			}
		case errors.Is(err, zk.ErrNodeExists):
			st, err := m.exists(ctx, m.idPath)
			if err != nil {
				return err
			}
			switch {
			case st == nil: // gone meanwhile: create again
			case st.EphemeralOwner == m.sess.id:
				return nil // a create whose answer we gave up on did pass
			case m.past[st.EphemeralOwner]:
				if err := m.delete(ctx, m.idPath, st.Version); err != nil && !isNodeErr(err) {
					return err
				}
			default:
				return fmt.Errorf("%w: %s belongs to session 0x%x", ErrConsumerIDInUse, m.idPath, st.EphemeralOwner)
			}
		default:
			return err
		}
	}
	return fmt.Errorf("%w: %s: could not create the node", ErrZooKeeper, m.idPath)
}

// deleteOwn deletes a node if the current session holds it.
func (m *Member) deleteOwn(ctx context.Context, path string) error {
	st, err := m.exists(ctx, path)
	if err != nil || st == nil || st.EphemeralOwner != m.sess.id {
		return err
	}
	// Nobody else deletes a node while its session lives, so the version
	// only matters if the session ends between the two calls.
	if err := m.delete(ctx, path, st.Version); err != nil && !isNodeErr(err) {
		return err
	}
	return nil
}

// ownersDir is /consumers/<group>/owners/<topic>.
func (m *Member) ownersDir(topic string) string { return m.ownersRoot + "/" + topic }

// ownerPath is /consumers/<group>/owners/<topic>/<partition>.
func (m *Member) ownerPath(tp balance.TopicPartition) string {
	return m.ownersDir(tp.Topic) + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// parsePartition reads an owner node's name. Names are partition numbers
// in decimal; they are compared as numbers, never as strings.
func parsePartition(name string) (int32, bool) {
	if name == "" || strings.TrimLeft(name, "0123456789") != "" {
		return 0, false
	}
	p, err := strconv.ParseInt(name, 10, 32)
	return int32(p), err == nil
}
