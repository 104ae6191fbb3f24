// Package wire is gokafka's connection to one Kafka broker: framing,
// correlation ids, several requests in flight (pipelining), deadlines, and
// API version negotiation. The message formats themselves come from
// github.com/twmb/franz-go/pkg/kmsg.
//
// A Conn is safe for concurrent use. Kafka answers the requests of one
// connection in the order they were sent, so a Conn keeps a FIFO of the calls
// in flight and one reader goroutine matches each response to the oldest call.
// The reader is the Conn's only goroutine; Close stops it.
//
// A Conn that fails (dial, read, write, a request past its deadline, a
// malformed frame) is dead for good: every call in flight fails with the
// cause, and the owner dials a new one. Reconnection policy lives above, in
// the cluster layer.
package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options configure a connection. The zero value works.
type Options struct {
	// ClientID is sent in every request header. Default "gokafka".
	ClientID string
	// DialTimeout bounds the TCP (and TLS) handshake. Default 10s.
	DialTimeout time.Duration
	// RequestTimeout bounds the wait for each response, on top of the time
	// the broker is asked to wait (Fetch max wait, Produce timeout, JoinGroup
	// rebalance timeout). A request past it kills the connection, because the
	// responses behind it can no longer be trusted to come. Default 30s.
	RequestTimeout time.Duration
	// MaxResponseBytes rejects frames larger than this, which also catches
	// peers that are not Kafka (an HTTP reply reads as a ~1.2 GB frame).
	// Default 256 MiB.
	MaxResponseBytes int32
	// Dialer opens the TCP connection. Default: net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, wraps the connection in TLS.
	TLS *tls.Config
	// SASL, when set, authenticates the connection after version negotiation.
	SASL Authenticator
	// MaxVersions caps request versions per API key, below what the broker
	// advertises (for brokers or fakes that mis-advertise).
	MaxVersions map[int16]int16
	// Observer, when set, is told of every request, response and the
	// connection's death (see Observer).
	Observer Observer
}

// Authenticator performs SASL authentication on a freshly negotiated
// connection. Implementations live in the sasl layer.
type Authenticator interface {
	Authenticate(ctx context.Context, c *Conn) error
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = "gokafka"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 256 << 20
	}
	return o
}

// Conn is one connection to one broker.
type Conn struct {
	addr     string
	opts     Options
	nc       net.Conn
	versions *Versions

	writeMu  sync.Mutex // serializes frames and correlation ids
	wbuf     []byte
	small    int     // frames in a row far smaller than wbuf
	pieces   []piece // the batches of the frame in wbuf that it leaves out (split.go)
	bufs     net.Buffers
	vectored bool // nc writes net.Buffers in one system call
	corrID   int32

	mu      sync.Mutex
	pending []*call // in send order
	err     error   // why the connection died; nil while alive
	dead    chan struct{}

	readerDone chan struct{}
}

type call struct {
	corrID       int32
	key          int16     // the request's API key, for the Observer
	sent         time.Time // when the request was written, for the Observer
	flexibleResp bool
	deadline     time.Time
	done         chan result // buffered: the reader never blocks on a caller
}

type result struct {
	body []byte
	err  error
}

// Dial connects to addr, negotiates API versions and, if configured,
// authenticates. ctx bounds the whole handshake.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	dial := opts.Dialer
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", kerr.ErrConnection, addr, err)
	}
	if opts.TLS != nil {
		cfg := opts.TLS
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("%w: TLS handshake with %s: %w", kerr.ErrAuthentication, addr, err)
		}
		nc = tc
	}
	c := &Conn{addr: addr, opts: opts, nc: nc, vectored: vectored(nc), dead: make(chan struct{}), readerDone: make(chan struct{})}
	go c.readLoop()
	// The whole handshake, not only TCP, is bounded by DialTimeout: a peer
	// that accepts and never answers (an HTTP server waiting for a request
	// line, a black hole) fails here rather than at the request timeout.
	if err := c.negotiate(dctx); err != nil {
		c.Close()
		if opts.TLS != nil && tlsAlert(err) {
			// In TLS 1.3 the server checks the client's certificate
			// after the client's side of the handshake is done, so
			// its refusal arrives as an alert on the first read.
			err = fmt.Errorf("%w: %s refused the TLS session: %w", kerr.ErrAuthentication, addr, err)
		}
		return nil, err
	}
	if opts.SASL != nil {
		if err := opts.SASL.Authenticate(dctx, c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// tlsAlert reports whether err is a TLS alert sent by the peer (crypto/tls
// returns those as a *net.OpError with Op "remote error").
func tlsAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// Addr is the address this connection was dialled at.
func (c *Conn) Addr() string { return c.addr }

// Versions is what the broker supports.
func (c *Conn) Versions() *Versions { return c.versions }

// Done is closed when the connection is dead.
func (c *Conn) Done() <-chan struct{} { return c.dead }

// Err is why the connection died, or nil while it is alive.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close kills the connection and waits for its reader to stop. Calls in
// flight fail with kerr.ErrClosed. Close is idempotent.
func (c *Conn) Close() error {
	c.kill(kerr.ErrClosed)
	<-c.readerDone
	return nil
}

// Request sends req at the highest version both sides support and returns
// the decoded response. It is safe to call from many goroutines; requests are
// pipelined. A Produce request with acks=0 gets no response: Request returns
// (nil, nil) once it is written.
//
// If ctx ends first, Request returns ctx.Err() and the connection stays
// usable; the late response is discarded.
func (c *Conn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	p, err := c.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a request written to the connection whose response is still to
// come.
type Pending struct {
	c   *Conn
	req kmsg.Request
	cl  *call // nil when no response is expected (acks=0)
}

// Send writes req and returns without waiting for the response. Kafka
// answers a connection's requests in the order they were written, and Send
// writes in the order its calls take the connection: one goroutine calling
// Send several times gets its requests processed in that order, which is
// what lets a producer keep several batches of one partition in flight.
func (c *Conn) Send(ctx context.Context, req kmsg.Request) (*Pending, error) {
	return c.SendAtMost(ctx, req, req.MaxVersion())
}

// RequestAtMost is Request at version most or lower (see
// Versions.PickAtMost).
func (c *Conn) RequestAtMost(ctx context.Context, req kmsg.Request, most int16) (kmsg.Response, error) {
	p, err := c.SendAtMost(ctx, req, most)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// SendAtMost is Send at version most or lower (see Versions.PickAtMost).
func (c *Conn) SendAtMost(ctx context.Context, req kmsg.Request, most int16) (*Pending, error) {
	v, err := c.versions.PickAtMost(req, most)
	if err != nil {
		return nil, err
	}
	if cap, ok := c.opts.MaxVersions[req.Key()]; ok && cap < v {
		v = cap
	}
	req.SetVersion(v)
	return c.sendPending(ctx, req)
}

func (c *Conn) sendPending(ctx context.Context, req kmsg.Request) (*Pending, error) {
	noResponse := false
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		noResponse = true
	}
	cl, err := c.send(ctx, req, noResponse)
	if err != nil {
		return nil, err
	}
	return &Pending{c: c, req: req, cl: cl}, nil
}

// Wait returns the response of a request Send wrote, or (nil, nil) for a
// request that gets none. If ctx ends first, Wait returns ctx.Err() and the
// connection stays usable.
func (p *Pending) Wait(ctx context.Context) (kmsg.Response, error) {
	if p.cl == nil {
		return nil, nil
	}
	var res result
	select {
	case res = <-p.cl.done:
	case <-ctx.Done():
		res.err = ctx.Err()
	}
	obs := p.c.opts.Observer
	if obs != nil {
		obs.ResponseRead(p.cl.key, len(res.body), time.Since(p.cl.sent), res.err)
	}
	if res.err != nil {
		return nil, res.err
	}
	resp := p.req.ResponseKind()
	resp.SetVersion(p.req.GetVersion())
	if err := resp.ReadFrom(res.body); err != nil {
		// A frame we cannot parse leaves us unsure of the stream: drop it.
		err = fmt.Errorf("%w: %s v%d from %s: %w", kerr.ErrCorruptResponse, kmsg.NameForKey(p.req.Key()), p.req.GetVersion(), p.c.addr, err)
		p.c.kill(err)
		return nil, err
	}
	if obs != nil {
		observeThrottle(obs, p.cl.key, resp)
	}
	return resp, nil
}

// serverWait is how long the broker itself may hold req before answering.
func serverWait(req kmsg.Request) time.Duration {
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		return time.Duration(r.MaxWaitMillis) * time.Millisecond
	case *kmsg.ProduceRequest:
		return time.Duration(r.TimeoutMillis) * time.Millisecond
	case *kmsg.JoinGroupRequest:
		return time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	case *kmsg.SyncGroupRequest:
		// Followers wait for the leader's assignment, bounded by the
		// rebalance timeout which the request does not carry.
		return 60 * time.Second
	}
	return 0
}

func (c *Conn) send(ctx context.Context, req kmsg.Request, noResponse bool) (*call, error) {
	deadline := time.Now().Add(c.opts.RequestTimeout + serverWait(req))
	writeDeadline := deadline
	if d, ok := ctx.Deadline(); ok && d.Before(writeDeadline) {
		writeDeadline = d
	}

	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.Err(); err != nil {
		return nil, err
	}
	c.corrID++
	var cl *call
	if !noResponse {
		cl = &call{
			corrID:       c.corrID,
			key:          req.Key(),
			flexibleResp: req.IsFlexible() && req.Key() != 18, // ApiVersions answers with header v0
			deadline:     deadline,
			done:         make(chan result, 1),
		}
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return nil, c.err
		}
		c.pending = append(c.pending, cl)
		if len(c.pending) == 1 {
			c.nc.SetReadDeadline(cl.deadline)
		}
		c.mu.Unlock()
	}
	// Framed only now that nothing can return before the write: the
	// frame's pieces alias the producer's batches until it is written.
	c.pieces = c.pieces[:0]
	if pr, ok := req.(*kmsg.ProduceRequest); ok && c.vectored && splittable(pr) {
		c.wbuf, c.pieces = appendProduceSplit(c.wbuf[:0], c.pieces, pr, c.corrID, c.opts.ClientID)
	} else {
		c.wbuf = appendRequest(c.wbuf[:0], req, c.corrID, c.opts.ClientID)
	}
	frameLen := 4 + int(binary.BigEndian.Uint32(c.wbuf))
	c.nc.SetWriteDeadline(writeDeadline)
	if cl != nil && c.opts.Observer != nil {
		cl.sent = time.Now()
	}
	if err := c.writeFrame(); err != nil {
		c.kill(fmt.Errorf("%w: write to %s: %w", kerr.ErrConnection, c.addr, err))
		// The first cause wins here too: the reader may have killed the
		// connection just before (a TLS 1.3 alert refusing the client's
		// certificate arrives after the handshake), and the write then
		// fails only with "use of closed network connection".
		err = c.Err()
		if c.opts.Observer != nil {
			c.opts.Observer.RequestWritten(req.Key(), frameLen, err)
		}
		return nil, err
	}
	if c.opts.Observer != nil {
		c.opts.Observer.RequestWritten(req.Key(), frameLen, nil)
	}
	c.keepWriteBuffer()
	return cl, nil
}

// writeFrame writes the frame in wbuf, with its pieces if it has any.
func (c *Conn) writeFrame() error {
	if len(c.pieces) == 0 {
		_, err := c.nc.Write(c.wbuf)
		return err
	}
	c.bufs = vectors(c.bufs[:0], c.wbuf, c.pieces)
	bufs := c.bufs // WriteTo consumes its receiver; c.bufs keeps the capacity
	_, err := bufs.WriteTo(c.nc)
	clear(c.bufs) // do not pin the batches
	clear(c.pieces)
	return err
}

// keepWriteBuffer decides whether the frame buffer is kept for the next
// request. A producer sends frames of similar, often multi-MiB size one after
// another, and regrowing the buffer each time cost it a fifth of its CPU; but
// one large frame must not pin its buffer forever on a connection that now
// sends small ones.
func (c *Conn) keepWriteBuffer() {
	const (
		maxKept    = 64 << 20
		smallLimit = 100 // frames under a quarter of the buffer before it is released
	)
	switch {
	case cap(c.wbuf) > maxKept:
		c.wbuf, c.small = nil, 0
	case len(c.wbuf) >= cap(c.wbuf)/4:
		c.small = 0
	default:
		if c.small++; c.small > smallLimit && cap(c.wbuf) > 64<<10 {
			c.wbuf, c.small = nil, 0
		}
	}
}

// appendRequest frames req: size, header (v1, or v2 for flexible requests),
// body.
func appendRequest(dst []byte, req kmsg.Request, corrID int32, clientID string) []byte {
	start := len(dst)
	dst = appendHeader(dst, req, corrID, clientID)
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// appendHeader appends a frame's size (zero, for the caller to set) and
// req's request header.
func appendHeader(dst []byte, req kmsg.Request, corrID int32, clientID string) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corrID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0) // no tagged fields
	}
	return dst
}

func (c *Conn) readLoop() {
	defer close(c.readerDone)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var size [4]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			c.kill(c.readError(err))
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 4 || n > c.opts.MaxResponseBytes {
			c.kill(fmt.Errorf("%w: %s sent a frame of %d bytes (is it a Kafka broker?)", kerr.ErrCorruptResponse, c.addr, n))
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			c.kill(c.readError(err))
			return
		}
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			c.kill(fmt.Errorf("%w: %s sent a response nobody asked for", kerr.ErrCorruptResponse, c.addr))
			return
		}
		cl := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if len(c.pending) > 0 {
			c.nc.SetReadDeadline(c.pending[0].deadline)
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()

		if got := int32(binary.BigEndian.Uint32(buf)); got != cl.corrID {
			err := fmt.Errorf("%w: %s answered correlation id %d, expected %d", kerr.ErrCorruptResponse, c.addr, got, cl.corrID)
			cl.done <- result{err: err}
			c.kill(err)
			return
		}
		body := buf[4:]
		if cl.flexibleResp {
			var err error
			if body, err = skipTags(body); err != nil {
				err = fmt.Errorf("%w: %s: response header: %w", kerr.ErrCorruptResponse, c.addr, err)
				cl.done <- result{err: err}
				c.kill(err)
				return
			}
		}
		cl.done <- result{body: body}
	}
}

func (c *Conn) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: no response from %s within its deadline", kerr.ErrRequestTimeout, c.addr)
	}
	return fmt.Errorf("%w: read from %s: %w", kerr.ErrConnection, c.addr, err)
}

// kill marks the connection dead with err (first cause wins), fails every
// call in flight and closes the socket, which stops the reader.
func (c *Conn) kill(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	close(c.dead)
	c.mu.Unlock()
	for _, cl := range pending {
		cl.done <- result{err: err}
	}
	c.nc.Close()
	if c.opts.Observer != nil {
		c.opts.Observer.Disconnected(err)
	}
}

// skipTags skips a tagged-field section (KIP-482) at the start of b.
func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[l:]
	for i := uint64(0); i < n; i++ {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}
