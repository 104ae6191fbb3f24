package wire_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Each test here connects a Conn to a fake broker that completes the
// handshake and then misbehaves in one way, and checks that the Conn returns
// the typed error within its timeout, and leaves no goroutine behind.

// dialFake starts a fake broker with h and dials it over TCP.
func dialFake(t *testing.T, opts wire.Options, h testhelp.FakeHandler) (*wire.Conn, *testhelp.FakeBroker) {
	t.Helper()
	b := testhelp.StartFakeBroker(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, b.Addr(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, b
}

// onMetadata misbehaves, with f, on Metadata requests only.
func onMetadata(f func(c *testhelp.FakeConn, r *testhelp.FakeRequest)) testhelp.FakeHandler {
	return func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 3 {
			return false
		}
		f(c, r)
		return true
	}
}

// request sends a Metadata request and returns its duration and error.
func request(t *testing.T, c *wire.Conn) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err == nil {
		t.Fatalf("no error, response %+v", resp)
	}
	if ctx.Err() != nil {
		t.Fatalf("the request ran into the test's 30s context: %v", err)
	}
	return time.Since(start), err
}

// wantDead checks that err is want, and that the connection is dead with
// it: calls after fail at once with the same cause.
func wantDead(t *testing.T, c *wire.Conn, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still alive after a fatal error")
	}
	if !errors.Is(c.Err(), want) {
		t.Fatalf("Err() = %v, want %v", c.Err(), want)
	}
	if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); !errors.Is(err, want) {
		t.Fatalf("request on the dead connection: %v, want %v", err, want)
	}
}

func TestFakeValidResponses(t *testing.T) {
	testhelp.NoLeaks(t)
	// The positive control of the fuzz target: valid answers of every
	// kind decode.
	c, _ := dialFake(t, wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key == 18 && r.CorrID == 1 {
			return false
		}
		resp := kmsg.ResponseForKey(r.Key)
		c.Respond(r, resp)
		return true
	})
	for _, mk := range fuzzRequests {
		req := mk()
		resp, err := c.Request(context.Background(), req)
		if err != nil || resp.Key() != req.Key() {
			t.Fatalf("%s: %v, %v", kmsg.NameForKey(req.Key()), resp, err)
		}
	}
}

func TestFakeTruncatedFrame(t *testing.T) {
	testhelp.NoLeaks(t)
	// Half a frame, then the broker hangs up: a connection error.
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		full := testhelp.EncodeResponse(r, kmsg.NewPtrMetadataResponse())
		c.Write(full[:len(full)/2])
		c.Close()
	}))
	_, err := request(t, c)
	wantDead(t, c, err, kerr.ErrConnection)

	// Half a frame, and the broker stays: the request timeout.
	c, _ = dialFake(t, wire.Options{RequestTimeout: 500 * time.Millisecond}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		full := testhelp.EncodeResponse(r, kmsg.NewPtrMetadataResponse())
		c.Write(full[:len(full)/2])
		c.WaitClosed()
	}))
	d, err := request(t, c)
	wantDead(t, c, err, kerr.ErrRequestTimeout)
	if d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed out after %v with a 500ms request timeout", d)
	}
}

func TestFakeWrongCorrelationID(t *testing.T) {
	testhelp.NoLeaks(t)
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		r.CorrID += 7
		c.Respond(r, kmsg.NewPtrMetadataResponse())
	}))
	_, err := request(t, c)
	wantDead(t, c, err, kerr.ErrCorruptResponse)
}

func TestFakeSizePrefixLies(t *testing.T) {
	testhelp.NoLeaks(t)
	// Shorter than the frame: the body is cut and does not decode.
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		resp := kmsg.NewPtrMetadataResponse()
		mb := kmsg.NewMetadataResponseBroker()
		mb.Host = "a-host-name-long-enough-to-cut"
		resp.Brokers = append(resp.Brokers, mb)
		full := testhelp.EncodeResponse(r, resp)
		binary.BigEndian.PutUint32(full, 12)
		c.Write(full)
		c.WaitClosed()
	}))
	_, err := request(t, c)
	wantDead(t, c, err, kerr.ErrCorruptResponse)

	// Longer than the frame, the broker stays: the request timeout.
	c, _ = dialFake(t, wire.Options{RequestTimeout: 300 * time.Millisecond}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		full := testhelp.EncodeResponse(r, kmsg.NewPtrMetadataResponse())
		binary.BigEndian.PutUint32(full, uint32(len(full)+100))
		c.Write(full)
		c.WaitClosed()
	}))
	_, err = request(t, c)
	wantDead(t, c, err, kerr.ErrRequestTimeout)

	// Sizes that no frame has: negative, zero, less than a correlation
	// id, and past MaxResponseBytes (default 256 MiB, and a set one).
	for _, tc := range []struct {
		size int32
		max  int32
	}{{-1, 0}, {-2147483648, 0}, {0, 0}, {3, 0}, {256<<20 + 1, 0}, {2147483647, 0}, {1025, 1024}} {
		c, _ = dialFake(t, wire.Options{MaxResponseBytes: tc.max}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
			c.Write(testhelp.RawFrame(tc.size, binary.BigEndian.AppendUint32(nil, uint32(r.CorrID))))
			c.WaitClosed()
		}))
		d, err := request(t, c)
		wantDead(t, c, err, kerr.ErrCorruptResponse)
		if d > 5*time.Second {
			t.Fatalf("size %d: %v to fail", tc.size, d)
		}
	}
}

func TestFakeGarbageBody(t *testing.T) {
	testhelp.NoLeaks(t)
	for name, body := range map[string][]byte{
		"empty":     {},
		"one byte":  {0x42},
		"ascii":     []byte("this is not a metadata response at all, just text"),
		"bad tags":  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"tag size":  {1, 0, 0x7f, 1, 2},
		"all 0xff":  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"array len": {0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
				c.Write(testhelp.ResponseFrame(r.CorrID, false, body))
				c.WaitClosed()
			}))
			_, err := request(t, c)
			wantDead(t, c, err, kerr.ErrCorruptResponse)
		})
	}
}

func TestFakeAbsurdArrayLengths(t *testing.T) {
	testhelp.NoLeaks(t)
	// A Metadata v12 body whose broker array claims 2^31-2 entries (compact
	// arrays store length+1), with a few bytes behind it: kmsg must refuse
	// it rather than allocate.
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		body := []byte{0, 0, 0, 0} // throttle
		body = binary.AppendUvarint(body, 0x7fffffff)
		body = append(body, make([]byte, 64)...)
		c.Write(testhelp.ResponseFrame(r.CorrID, true, body))
		c.WaitClosed()
	}))
	_, err := request(t, c)
	wantDead(t, c, err, kerr.ErrCorruptResponse)

	// A Fetch response whose partition says it holds 2^31-1 aborted
	// transactions.
	c, _ = dialFake(t, wire.Options{MaxVersions: map[int16]int16{1: 4}}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 1 {
			return false
		}
		body := []byte{0, 0, 0, 0, 0, 0, 0, 1} // throttle, 1 topic
		body = append(body, 0, 1, 't', 0, 0, 0, 1)
		body = append(body, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // partition, code, hwm, lso
		body = append(body, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3)                                  // aborted transactions
		c.Write(testhelp.ResponseFrame(r.CorrID, false, body))
		c.WaitClosed()
		return true
	})
	_, err = c.Request(context.Background(), kmsg.NewPtrFetchRequest())
	wantDead(t, c, err, kerr.ErrCorruptResponse)
}

func TestFakeUnsolicitedResponse(t *testing.T) {
	testhelp.NoLeaks(t)
	// A frame right after the handshake, while nothing is in flight.
	c, _ := dialFake(t, wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 18 {
			return false
		}
		c.Respond(r, c.Broker().ApiVersions(r))
		c.Write(testhelp.ResponseFrame(999, false, []byte{0, 0}))
		c.WaitClosed()
		return true
	})
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("an unsolicited frame did not kill the connection")
	}
	wantDead(t, c, c.Err(), kerr.ErrCorruptResponse)

	// Two answers to one request: the first is used, the second kills the
	// connection.
	c, _ = dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		c.Respond(r, c.Broker().Metadata(r))
		c.Respond(r, c.Broker().Metadata(r))
		c.WaitClosed()
	}))
	if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("first answer: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a second answer did not kill the connection")
	}
	wantDead(t, c, c.Err(), kerr.ErrCorruptResponse)
}

func TestFakeSlowLoris(t *testing.T) {
	testhelp.NoLeaks(t)
	// A valid response at a byte every 200ms would take seconds; the
	// request timeout (an absolute deadline, not an idle one) ends it.
	c, _ := dialFake(t, wire.Options{RequestTimeout: 500 * time.Millisecond}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		c.WriteSlowly(testhelp.EncodeResponse(r, c.Broker().Metadata(r)), 200*time.Millisecond)
		c.WaitClosed()
	}))
	d, err := request(t, c)
	wantDead(t, c, err, kerr.ErrRequestTimeout)
	if d > 3*time.Second {
		t.Fatalf("slow-loris response held the request %v past a 500ms timeout", d)
	}

	// During the handshake the dial timeout bounds it.
	b := testhelp.StartFakeBroker(t, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		c.WriteSlowly(testhelp.EncodeResponse(r, c.Broker().ApiVersions(r)), 200*time.Millisecond)
		c.WaitClosed()
		return true
	})
	start := time.Now()
	_, err = wire.Dial(context.Background(), b.Addr(), wire.Options{DialTimeout: 500 * time.Millisecond})
	if !errors.Is(err, kerr.ErrConnection) {
		t.Fatalf("slow handshake: %v, want ErrConnection", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow handshake took %v with a 500ms dial timeout", d)
	}
}

func TestFakePipelinedCallsShareTheCause(t *testing.T) {
	testhelp.NoLeaks(t)
	// Ten requests in flight, the broker reads them all and hangs up:
	// every caller gets the connection error, none waits for a timeout.
	const n = 10
	var seen atomic.Int32
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		if seen.Add(1) == n {
			c.Close()
		}
	}))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, kerr.ErrConnection) {
			t.Fatalf("pipelined call: %v, want ErrConnection", err)
		}
	}
}

func TestFakeContextEndsOneCallOnly(t *testing.T) {
	testhelp.NoLeaks(t)
	// The first Metadata is answered late: its caller's context ends
	// first, the connection stays usable, and the late answer is dropped
	// rather than given to the next call.
	var first atomic.Bool
	release := make(chan struct{})
	c, _ := dialFake(t, wire.Options{}, onMetadata(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) {
		if !first.Swap(true) {
			<-release
		}
		c.Respond(r, c.Broker().Metadata(r))
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call: %v, want its context's deadline", err)
	}
	close(release)
	for i := range 3 {
		if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
			t.Fatalf("call %d after a caller gave up: %v", i, err)
		}
	}
}

func TestFakeHandshakeFailures(t *testing.T) {
	testhelp.NoLeaks(t)
	dial := func(opts wire.Options, h testhelp.FakeHandler) (time.Duration, error) {
		t.Helper()
		b := testhelp.StartFakeBroker(t, h)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		c, err := wire.Dial(ctx, b.Addr(), opts)
		if err == nil {
			c.Close()
			t.Fatal("Dial succeeded")
		}
		if ctx.Err() != nil {
			t.Fatalf("Dial ran into the test's context: %v", err)
		}
		return time.Since(start), err
	}
	apiVersions := func(code int16, maxApiVersions int16) testhelp.FakeHandler {
		return func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
			resp := c.Broker().ApiVersions(r)
			resp.ErrorCode = code
			testhelp.CapAPIVersion(resp, 18, maxApiVersions)
			if code == kerr.UnsupportedVersion.Code {
				r.Version = 0 // the broker answers in v0 what it cannot read
			}
			c.Respond(r, resp)
			return true
		}
	}

	// Hangs up on the first request.
	_, err := dial(wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool { c.Close(); return true })
	if !errors.Is(err, kerr.ErrConnection) {
		t.Fatalf("hang-up: %v", err)
	}
	// Never answers: the dial timeout.
	d, err := dial(wire.Options{DialTimeout: 300 * time.Millisecond}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool { c.WaitClosed(); return true })
	if !errors.Is(err, kerr.ErrConnection) || d > 3*time.Second {
		t.Fatalf("silent broker: %v after %v", err, d)
	}
	// UNSUPPORTED_VERSION while claiming to support the version asked.
	if _, err := dial(wire.Options{}, apiVersions(kerr.UnsupportedVersion.Code, 4)); !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("UNSUPPORTED_VERSION for a supported version: %v", err)
	}
	// UNSUPPORTED_VERSION with a negative version range, then a normal
	// answer to whatever comes next: no request goes out at version -1.
	unsupported := apiVersions(kerr.UnsupportedVersion.Code, -1)
	if _, err := dial(wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.CorrID == 1 {
			return unsupported(c, r)
		}
		if r.Version < 0 {
			t.Errorf("ApiVersions sent at version %d", r.Version)
		}
		return false
	}); !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("UNSUPPORTED_VERSION with max version -1: %v", err)
	}
	// Another error code.
	if _, err := dial(wire.Options{}, apiVersions(kerr.ClusterAuthorizationFailed.Code, 4)); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("CLUSTER_AUTHORIZATION_FAILED: %v", err)
	}
	// An ApiVersions answer too short to hold an error code.
	if _, err := dial(wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		c.Write(testhelp.ResponseFrame(r.CorrID, false, []byte{0}))
		c.WaitClosed()
		return true
	}); !errors.Is(err, kerr.ErrCorruptResponse) {
		t.Fatalf("one-byte ApiVersions: %v", err)
	}
	// The client expects TLS, the broker speaks plaintext (reads the
	// ClientHello as a 369 MB request and hangs up).
	d, err = dial(wire.Options{TLS: &tls.Config{}}, nil)
	if !errors.Is(err, kerr.ErrAuthentication) && !errors.Is(err, kerr.ErrConnection) || d > 5*time.Second {
		t.Fatalf("TLS to a plaintext broker: %v after %v", err, d)
	}
}

func TestFakeUnsupportedAPI(t *testing.T) {
	testhelp.NoLeaks(t)
	// A broker that does not list Metadata at all.
	c, _ := dialFake(t, wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 18 {
			return false
		}
		resp := c.Broker().ApiVersions(r)
		testhelp.DropAPI(resp, 3) // Metadata
		c.Respond(r, resp)
		return true
	})
	if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("unlisted API: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("an unsupported API killed the connection: %v", c.Err())
	}
	// A Produce range entirely below what gokafka speaks (v3+).
	c, _ = dialFake(t, wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 18 {
			return false
		}
		resp := c.Broker().ApiVersions(r)
		testhelp.CapAPIVersion(resp, 0, 2) // Produce
		c.Respond(r, resp)
		return true
	})
	if _, err := c.Request(context.Background(), kmsg.NewPtrProduceRequest()); !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("Produce v0-v2 only: %v", err)
	}
}
