package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Group.DialContext once the Group (or the
// target's Proxy) is closed.
var ErrClosed = errors.New("faultproxy: closed")

// chunkSize is the most one read takes from a connection; queueChunks is how
// many chunks may wait, per direction, for their latency or for Heal before
// the reader stops reading (and TCP flow control pushes back on the sender).
const (
	chunkSize   = 32 << 10
	queueChunks = 64
)

// Proxy forwards the TCP connections it accepts to one target address,
// with switchable faults (see the package doc). Safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // ends at Close: aborts dials to the target
	cancel context.CancelFunc

	mu      sync.Mutex
	latency time.Duration
	gate    chan struct{} // closed while traffic flows; open during a black hole
	holed   bool
	links   map[*link]struct{}
	closed  bool

	accepted atomic.Int64
	wg       sync.WaitGroup // accept loop, connection set-ups, pipes
}

// New starts a proxy to target on 127.0.0.1, on a port the kernel picks.
// It starts one goroutine, the accept loop; Close stops it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	gate := make(chan struct{})
	close(gate)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, gate: gate, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted counts the connections accepted so far: a client that reconnects
// after a Reset shows up here.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Active is the number of connections being forwarded now.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// SetLatency delays all data, in each direction, by d (0 removes the delay).
// Data already waiting takes the new delay counted from when it was read.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = max(d, 0)
	p.mu.Unlock()
}

// BlackHole stops forwarding: connections are still accepted and kept open,
// data is held until Heal.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.holed {
		p.holed = true
		p.gate = make(chan struct{})
	}
}

// Heal removes the latency and the black hole; held data flows again, in
// order.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = 0
	if p.holed {
		p.holed = false
		close(p.gate)
	}
}

// Reset closes every current connection with a TCP RST on both sides and
// returns how many it closed. Data held or delayed in them is lost, as it is
// when a connection really breaks.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
	return len(links)
}

// Close stops accepting, closes every connection and waits for every
// goroutine of the proxy. Idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	p.ln.Close()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	if p.holed { // release writers waiting at the gate
		p.holed = false
		close(p.gate)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(false)
	}
	p.wg.Wait()
	return nil
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// state returns what a writer must honour before forwarding a chunk.
func (p *Proxy) state() (latency time.Duration, gate <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency, p.gate
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // listener closed
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects an accepted client to the target and starts the pipes.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	dctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	var d net.Dialer
	server, err := d.DialContext(dctx, "tcp", p.target)
	cancel()
	if err != nil {
		// The target is down: the client sees its connection closed,
		// as it would see a refused one.
		client.Close()
		return
	}
	l := &link{p: p, client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close(false)
		return
	}
	p.links[l] = struct{}{}
	p.wg.Add(4) // while serve still holds its own count, so never racing Wait
	p.mu.Unlock()
	l.pipe(client, server)
	l.pipe(server, client)
}

// link is one proxied connection: the accepted client side and the dialled
// server side.
type link struct {
	p              *Proxy
	client, server net.Conn
	done           chan struct{} // closed when the link is closed
	once           sync.Once
}

// close closes both sides (with RST when reset) and forgets the link.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		if reset {
			linger0(l.client)
			linger0(l.server)
		}
		l.client.Close()
		l.server.Close()
		close(l.done)
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

func linger0(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}

type chunk struct {
	data []byte
	read time.Time
}

// pipe forwards src to dst on two goroutines: the reader timestamps chunks,
// the writer forwards each once its latency has passed and no black hole
// holds it. When src ends, what was read is still delivered, then the link
// closes; any write error closes it at once.
func (l *link) pipe(src, dst net.Conn) {
	ch := make(chan chunk, queueChunks)
	go func() {
		defer l.p.wg.Done()
		defer close(ch)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case ch <- chunk{data: buf[:n], read: time.Now()}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer l.p.wg.Done()
		defer l.close(false)
		var timer *time.Timer
		for c := range ch {
			latency, gate := l.p.state()
			if wait := time.Until(c.read.Add(latency)); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-l.done:
					return
				}
				_, gate = l.p.state() // a black hole may have begun meanwhile
			}
			select {
			case <-gate:
			case <-l.done:
				return
			}
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
}
