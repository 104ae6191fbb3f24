package cluster

import (
	"reflect"

	"github.com/gokafka/kafka/internal/kerr"
)

// Provider is what the public layers built on a cluster connection
// (offsets, balance) accept: a *Cluster inside this module, and a
// *kafka.Client for users, which embeds a Handle. Its one method is
// unexported, so no type outside this module implements it, and the
// public signatures that take a Provider name no internal type.
type Provider interface {
	clusterOf() *Cluster
}

func (c *Cluster) clusterOf() *Cluster { return c }

// Handle carries a *Cluster to embed in a public type (under an unexported
// alias, so that it adds no exported field or method) to make that type a
// Provider.
type Handle struct{ c *Cluster }

// NewHandle returns the Handle of c.
func NewHandle(c *Cluster) Handle { return Handle{c} }

func (h Handle) clusterOf() *Cluster { return h.c }

// From returns p's cluster. A nil Provider, a nil pointer, or one that
// holds no cluster (a zero kafka.Client) fails with kerr.ErrInvalidConfig
// naming the "cluster" argument.
func From(p Provider) (*Cluster, error) {
	var c *Cluster
	// A nil *kafka.Client is a non-nil Provider whose method would
	// dereference it.
	if v := reflect.ValueOf(p); p != nil && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		c = p.clusterOf()
	}
	if c == nil {
		return nil, kerr.Config("cluster", "nil: pass a *kafka.Client")
	}
	return c, nil
}
