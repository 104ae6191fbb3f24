package testhelp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FakeRequest is one request read from a client.
type FakeRequest struct {
	Key      int16
	Version  int16
	CorrID   int32
	ClientID string
	// Body is the decoded request, or nil if it did not decode (or the
	// key is unknown to kmsg).
	Body kmsg.Request
}

// FakeHandler decides what a FakeBroker does with a request. It returns
// true if it dealt with the request (answered it, misbehaved, or
// deliberately kept silent); false lets the default behaviour apply:
// ApiVersions and Metadata are answered, anything else closes the
// connection.
//
// A handler runs on the connection's goroutine, one request at a time, in
// the order the client sent them.
type FakeHandler func(c *FakeConn, r *FakeRequest) bool

// FakeBroker is a fake broker. Its exported fields may be set before it serves
// its first connection.
type FakeBroker struct {
	// NodeID is the broker's id in Metadata responses. Default 1.
	NodeID int32
	// Host and Port are what Metadata advertises. Listen sets them to the
	// listener's address.
	Host string
	Port int32

	ln   net.Listener
	quit chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	handler FakeHandler
	topics  map[string]int32 // name -> partition count
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewFakeBroker returns a broker that serves only DialPipe connections.
func NewFakeBroker(h FakeHandler) *FakeBroker {
	return &FakeBroker{
		NodeID:  1,
		Host:    "fake.invalid",
		Port:    9092,
		quit:    make(chan struct{}),
		handler: h,
		topics:  map[string]int32{},
		conns:   map[net.Conn]struct{}{},
	}
}

// ListenFakeBroker returns a broker that accepts connections on 127.0.0.1,
// on a port of the system's choosing (see Addr).
func ListenFakeBroker(h FakeHandler) (*FakeBroker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := NewFakeBroker(h)
	b.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	b.Host, b.Port = addr.IP.String(), int32(addr.Port)
	b.wg.Add(1)
	go b.acceptLoop()
	return b, nil
}

// StartFakeBroker is ListenFakeBroker for tests: it fails t on error and
// closes the broker when the test ends.
func StartFakeBroker(t testing.TB, h FakeHandler) *FakeBroker {
	t.Helper()
	b, err := ListenFakeBroker(h)
	if err != nil {
		t.Fatalf("testhelp: fake broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// Addr is host:port of the listener ("" for a pipe-only broker).
func (b *FakeBroker) Addr() string {
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// SetHandler replaces the handler for the requests read from now on.
func (b *FakeBroker) SetHandler(h FakeHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handler = h
}

// AddTopic makes Metadata list a topic with n partitions, all led by this
// broker.
func (b *FakeBroker) AddTopic(name string, partitions int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.topics[name] = partitions
}

// Close stops accepting, closes every connection and waits for their
// goroutines. Idempotent.
func (b *FakeBroker) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.quit)
	if b.ln != nil {
		b.ln.Close()
	}
	for nc := range b.conns {
		nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// DialPipe has the signature of wire.Options.Dialer: it ignores the address
// and returns one end of an in-memory connection whose other end this
// broker serves.
func (b *FakeBroker) DialPipe(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	if !b.serve(server) {
		client.Close()
		return nil, errors.New("testhelp: fake broker: closed")
	}
	return client, nil
}

func (b *FakeBroker) acceptLoop() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.serve(nc)
	}
}

// serve starts the goroutine of one connection; false if the broker is
// closed.
func (b *FakeBroker) serve(nc net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		nc.Close()
		return false
	}
	b.conns[nc] = struct{}{}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		c := &FakeConn{nc: nc, b: b}
		c.loop()
		nc.Close()
		b.mu.Lock()
		delete(b.conns, nc)
		b.mu.Unlock()
	}()
	return true
}

// FakeConn is the broker's side of one client connection.
type FakeConn struct {
	nc     net.Conn
	b      *FakeBroker
	closed bool
}

// maxRequest bounds the requests the fake reads (it is fed by tests).
const maxRequest = 64 << 20

func (c *FakeConn) loop() {
	var size [4]byte
	for !c.closed {
		if _, err := io.ReadFull(c.nc, size[:]); err != nil {
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 10 || n > maxRequest {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			return
		}
		r, err := parseRequest(buf)
		if err != nil {
			return
		}
		c.b.mu.Lock()
		h := c.b.handler
		c.b.mu.Unlock()
		if h != nil && h(c, r) {
			continue
		}
		c.answerDefault(r)
	}
}

// parseRequest reads a request frame (without its size): header v1 or v2,
// then the body.
func parseRequest(buf []byte) (*FakeRequest, error) {
	r := &FakeRequest{
		Key:     int16(binary.BigEndian.Uint16(buf)),
		Version: int16(binary.BigEndian.Uint16(buf[2:])),
		CorrID:  int32(binary.BigEndian.Uint32(buf[4:])),
	}
	rest := buf[8:]
	if len(rest) < 2 {
		return nil, errors.New("short header")
	}
	idLen := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if idLen > 0 {
		if int(idLen) > len(rest) {
			return nil, errors.New("short client id")
		}
		r.ClientID = string(rest[:idLen])
		rest = rest[idLen:]
	}
	body := kmsg.RequestForKey(r.Key)
	if body == nil {
		return r, nil
	}
	body.SetVersion(r.Version)
	if body.IsFlexible() {
		// The request header's tagged fields: gokafka sends none (a single
		// 0, the count); a request with some is left undecoded.
		if len(rest) == 0 || rest[0] != 0 {
			return r, nil
		}
		rest = rest[1:]
	}
	if err := body.ReadFrom(rest); err == nil {
		r.Body = body
	}
	return r, nil
}

func (c *FakeConn) answerDefault(r *FakeRequest) {
	switch r.Key {
	case 18:
		c.Respond(r, c.b.ApiVersions(r))
	case 3:
		c.Respond(r, c.b.Metadata(r))
	default:
		c.Close()
	}
}

// ApiVersions is the broker's default ApiVersions response: every key kmsg
// knows, from version 0 to kmsg's newest.
func (b *FakeBroker) ApiVersions(r *FakeRequest) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(r.Version)
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			continue
		}
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, 0, req.MaxVersion()
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	return resp
}

// CapAPIVersion makes resp, an ApiVersions answer, list maxVersion as the
// highest version of API key: a broker older than the request, or than a
// version of it, that the client must cope with.
func CapAPIVersion(resp *kmsg.ApiVersionsResponse, key, maxVersion int16) {
	for i := range resp.ApiKeys {
		if resp.ApiKeys[i].ApiKey == key {
			resp.ApiKeys[i].MaxVersion = maxVersion
		}
	}
}

// DropAPI removes API key from resp, an ApiVersions answer: a broker that
// does not know the request at all.
func DropAPI(resp *kmsg.ApiVersionsResponse, key int16) {
	resp.ApiKeys = slices.DeleteFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == key })
}

// Metadata is the broker's default Metadata response: itself as the only
// broker and controller, and the topics added with AddTopic (those asked
// for, or all), each partition led by this broker. Unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION.
func (b *FakeBroker) Metadata(r *FakeRequest) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(r.Version)
	resp.ClusterID = kmsg.StringPtr("fake-cluster")
	resp.ControllerID = b.NodeID
	mb := kmsg.NewMetadataResponseBroker()
	mb.NodeID, mb.Host, mb.Port = b.NodeID, b.Host, b.Port
	resp.Brokers = append(resp.Brokers, mb)

	b.mu.Lock()
	topics := make(map[string]int32, len(b.topics))
	for k, v := range b.topics {
		topics[k] = v
	}
	b.mu.Unlock()
	var names []string
	req, _ := r.Body.(*kmsg.MetadataRequest)
	if req == nil || req.Topics == nil {
		for name := range topics {
			names = append(names, name)
		}
		slices.Sort(names)
	} else {
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	for _, name := range names {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		n, ok := topics[name]
		if !ok {
			rt.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		h := fnv.New128a()
		h.Write([]byte(name))
		copy(rt.TopicID[:], h.Sum(nil))
		for p := range n {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition, rp.Leader, rp.LeaderEpoch = p, b.NodeID, 0
			rp.Replicas, rp.ISR = []int32{b.NodeID}, []int32{b.NodeID}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// Respond writes resp as the answer to r, at r's version.
func (c *FakeConn) Respond(r *FakeRequest, resp kmsg.Response) error {
	return c.Write(EncodeResponse(r, resp))
}

// Write writes raw bytes to the client.
func (c *FakeConn) Write(p []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(p)
	return err
}

// WriteSlowly writes p one byte every interval, until done, the client
// hangs up, or the broker closes.
func (c *FakeConn) WriteSlowly(p []byte, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := range p {
		if err := c.Write(p[i : i+1]); err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-c.b.quit:
			return errors.New("testhelp: fake broker: closed")
		}
	}
	return nil
}

// WaitClosed blocks until the client closes the connection or the broker
// closes (Close closes every connection); requests sent meanwhile are
// discarded. It is how a handler keeps a connection open without answering.
func (c *FakeConn) WaitClosed() {
	io.Copy(io.Discard, c.nc)
	c.closed = true
}

// Close closes the connection after the handler returns.
func (c *FakeConn) Close() {
	c.closed = true
	c.nc.Close()
}

// Broker is the broker this connection belongs to, for its default
// responses (ApiVersions, Metadata).
func (c *FakeConn) Broker() *FakeBroker { return c.b }

// NetConn is the raw connection.
func (c *FakeConn) NetConn() net.Conn { return c.nc }

// EncodeResponse frames resp as the response to r: size, correlation id, the
// header's tagged fields when the response is flexible (except for
// ApiVersions, whose response header is always v0), body.
func EncodeResponse(r *FakeRequest, resp kmsg.Response) []byte {
	resp.SetVersion(r.Version)
	body := resp.AppendTo(nil)
	return ResponseFrame(r.CorrID, resp.IsFlexible() && r.Key != 18, body)
}

// ResponseFrame builds a response frame around body.
func ResponseFrame(corrID int32, flexibleHeader bool, body []byte) []byte {
	out := make([]byte, 8, 9+len(body))
	binary.BigEndian.PutUint32(out[4:], uint32(corrID))
	if flexibleHeader {
		out = append(out, 0)
	}
	out = append(out, body...)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// RawFrame is a size prefix (which may lie) followed by bytes.
func RawFrame(size int32, rest []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(size))
	return append(out, rest...)
}

// String describes a request, for test logs.
func (r *FakeRequest) String() string {
	return kmsg.NameForKey(r.Key) + " v" + strconv.Itoa(int(r.Version)) + " corr " + fmt.Sprint(r.CorrID)
}
