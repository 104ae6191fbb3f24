package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrNotProxied is returned by Group.DialContext for an address that no
// proxy of the group serves.
var ErrNotProxied = errors.New("faultproxy: address not proxied")

// Group is one Proxy per broker, and the dialer that routes a client
// through them. Its switches act on every proxy; Proxy(addr) reaches one.
// Safe for concurrent use.
type Group struct {
	proxies  []*Proxy
	byTarget map[string]*Proxy
}

// NewGroup starts a proxy for each target address (host:port, as brokers
// advertise themselves).
func NewGroup(targets ...string) (*Group, error) {
	g := &Group{byTarget: map[string]*Proxy{}}
	for _, t := range targets {
		if _, dup := g.byTarget[t]; dup {
			continue
		}
		p, err := New(t)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.proxies = append(g.proxies, p)
		g.byTarget[t] = p
	}
	return g, nil
}

// DialContext connects to addr's proxy instead of addr. It has the
// signature kafka.WithDialer takes. An address without a proxy fails with
// ErrNotProxied rather than bypassing the faults; after Close it fails with
// ErrClosed.
func (g *Group) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	p := g.byTarget[addr]
	if p == nil {
		return nil, fmt.Errorf("%w: %s (proxied: %s)", ErrNotProxied, addr, strings.Join(g.Targets(), ","))
	}
	if p.isClosed() {
		return nil, fmt.Errorf("%w: proxy of %s", ErrClosed, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// Proxy returns the proxy of target, or nil.
func (g *Group) Proxy(target string) *Proxy { return g.byTarget[target] }

// Proxies returns every proxy, in the order of the targets given.
func (g *Group) Proxies() []*Proxy { return g.proxies }

// Targets lists the proxied addresses.
func (g *Group) Targets() []string { return each(g, (*Proxy).Target) }

// Addrs lists the proxies' own addresses, comma-separated (usable as
// bootstrap servers by a client that does not remap addresses; it will
// still dial the brokers' advertised addresses afterwards).
func (g *Group) Addrs() string { return strings.Join(each(g, (*Proxy).Addr), ",") }

// SetLatency sets every proxy's latency.
func (g *Group) SetLatency(d time.Duration) {
	for _, p := range g.proxies {
		p.SetLatency(d)
	}
}

// BlackHole turns every proxy into a black hole.
func (g *Group) BlackHole() {
	for _, p := range g.proxies {
		p.BlackHole()
	}
}

// Heal heals every proxy.
func (g *Group) Heal() {
	for _, p := range g.proxies {
		p.Heal()
	}
}

// Reset resets every connection of every proxy and returns how many it
// closed.
func (g *Group) Reset() int { return sum(g, (*Proxy).Reset) }

// Accepted is the total of the proxies' accepted connections.
func (g *Group) Accepted() int64 { return sum(g, (*Proxy).Accepted) }

// Active is the total of the proxies' current connections.
func (g *Group) Active() int { return sum(g, (*Proxy).Active) }

// Close closes every proxy and waits for their goroutines.
func (g *Group) Close() error {
	for _, p := range g.proxies {
		p.Close()
	}
	return nil
}

// each is f of every proxy, in order.
func each[T any](g *Group, f func(*Proxy) T) []T {
	out := make([]T, len(g.proxies))
	for i, p := range g.proxies {
		out[i] = f(p)
	}
	return out
}

// sum is the total of f over the proxies.
func sum[N int | int64](g *Group, f func(*Proxy) N) N {
	var n N
	for _, p := range g.proxies {
		n += f(p)
	}
	return n
}
