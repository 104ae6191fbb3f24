package sasl

import (
	"bufio"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests drive Authenticate through a real wire.Conn against a small
// fake broker that speaks Kafka framing, to pin the request flow and the
// error mapping. The real brokers' verdicts are tested in the root package
// (security_test.go) on SASL_PLAINTEXT and SASL_SSL listeners.

// fakeBroker answers ApiVersions itself and hands SaslHandshake and
// SaslAuthenticate requests to handle, which returns the response, or nil
// to close the connection, or blocks to simulate a silent broker.
type fakeBroker struct {
	ln       net.Listener
	versions map[int16][2]int16
	handle   func(req kmsg.Request) kmsg.Response
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newFakeBroker(t *testing.T, handle func(req kmsg.Request) kmsg.Response) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{ln: ln, handle: handle, versions: map[int16][2]int16{
		18: {0, 4}, // ApiVersions
		17: {0, 1}, // SaslHandshake
		36: {0, 2}, // SaslAuthenticate
		3:  {0, 12},
	}}
	b.wg.Go(b.accept)
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBroker) addr() string { return b.ln.Addr().String() }

func (b *fakeBroker) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		b.wg.Go(func() { b.serve(c) })
	}
}

func (b *fakeBroker) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		key := int16(binary.BigEndian.Uint16(frame))
		version := int16(binary.BigEndian.Uint16(frame[2:]))
		corr := binary.BigEndian.Uint32(frame[4:])
		idLen := int(binary.BigEndian.Uint16(frame[8:]))
		body := frame[10+idLen:]
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		if req.IsFlexible() {
			body = body[1:] // empty tagged fields of header v2
		}
		if err := req.ReadFrom(body); err != nil {
			return
		}
		var resp kmsg.Response
		if key == 18 {
			r := req.ResponseKind().(*kmsg.ApiVersionsResponse)
			for k, v := range b.versions {
				ak := kmsg.NewApiVersionsResponseApiKey()
				ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, v[0], v[1]
				r.ApiKeys = append(r.ApiKeys, ak)
			}
			resp = r
		} else if resp = b.handle(req); resp == nil {
			return
		}
		resp.SetVersion(version)
		out := binary.BigEndian.AppendUint32(make([]byte, 4), corr)
		if resp.IsFlexible() && key != 18 {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// plainBroker accepts PLAIN for alice with password.
func plainBroker(t *testing.T, password, rejectMsg string) *fakeBroker {
	return newFakeBroker(t, func(req kmsg.Request) kmsg.Response {
		switch r := req.(type) {
		case *kmsg.SASLHandshakeRequest:
			resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = []string{"PLAIN", "SCRAM-SHA-512"}
			if r.Mechanism != "PLAIN" && r.Mechanism != "SCRAM-SHA-512" {
				resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			}
			return resp
		case *kmsg.SASLAuthenticateRequest:
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			if string(r.SASLAuthBytes) != "\x00alice\x00"+password {
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				resp.ErrorMessage = kmsg.StringPtr(rejectMsg)
			}
			return resp
		}
		return nil
	})
}

func dial(t *testing.T, addr string, a *Authenticator, timeout time.Duration) (*wire.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, addr, wire.Options{SASL: a, DialTimeout: timeout})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func mustNew(t *testing.T, mech Mechanism, user, password string) *Authenticator {
	t.Helper()
	a, err := New(mech, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// noSecret fails the test if err's text shows one of the secrets.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error shows a secret (%q): %v", s, err)
		}
	}
}

func TestPlain(t *testing.T) {
	const pw = "correct-horse-battery"
	b := plainBroker(t, pw, "")
	if _, err := dial(t, b.addr(), mustNew(t, Plain, "alice", pw), 5*time.Second); err != nil {
		t.Fatalf("right password: %v", err)
	}
}

func TestPlainRejected(t *testing.T) {
	const wrong = "wrong-password-1234"
	// A broker that echoes the password it got: the error must still not
	// show it.
	b := plainBroker(t, "correct-horse-battery", "Authentication failed: password "+wrong+" is invalid for alice")
	_, err := dial(t, b.addr(), mustNew(t, Plain, "alice", wrong), 5*time.Second)
	if !errors.Is(err, kerr.ErrAuthentication) || !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("want ErrAuthentication and SaslAuthenticationFailed, got %v", err)
	}
	if errors.Is(err, kerr.ErrConnection) {
		t.Fatalf("a verdict must not look like a connection failure (it would be retried): %v", err)
	}
	noSecret(t, err, wrong)
	for _, want := range []string{"PLAIN", `"alice"`, b.addr(), "[redacted]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

func TestUnsupportedMechanism(t *testing.T) {
	b := plainBroker(t, "pw", "")
	_, err := dial(t, b.addr(), mustNew(t, ScramSHA256, "alice", "pw-secret"), 5*time.Second)
	if !errors.Is(err, kerr.ErrAuthentication) || !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Fatalf("want ErrAuthentication and UnsupportedSaslMechanism, got %v", err)
	}
	if !strings.Contains(err.Error(), "PLAIN, SCRAM-SHA-512") {
		t.Fatalf("error does not list the listener's mechanisms: %v", err)
	}
}

func TestNoSaslHandshakeV1(t *testing.T) {
	b := plainBroker(t, "pw", "")
	b.versions[17] = [2]int16{0, 0}
	_, err := dial(t, b.addr(), mustNew(t, Plain, "alice", "pw"), 5*time.Second)
	if !errors.Is(err, kerr.ErrAuthentication) || !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("want ErrAuthentication and ErrUnsupportedVersion, got %v", err)
	}
	delete(b.versions, 17)
	if _, err := dial(t, b.addr(), mustNew(t, Plain, "alice", "pw"), 5*time.Second); !errors.Is(err, kerr.ErrUnsupportedVersion) {
		t.Fatalf("a listener without SaslHandshake: %v", err)
	}
}

// scramBroker runs the fake SCRAM server of scram_test.go behind
// SaslAuthenticate, answering a failed proof as Kafka does: with
// SASL_AUTHENTICATION_FAILED rather than an e= message. tamper, if set,
// rewrites the server-final message.
func scramBroker(t *testing.T, password string, tamper func(string) string) *fakeBroker {
	srv := newFakeServer(t, sha512.New, password, 4096)
	step := 0
	var mu sync.Mutex
	return newFakeBroker(t, func(req kmsg.Request) kmsg.Response {
		mu.Lock()
		defer mu.Unlock()
		switch r := req.(type) {
		case *kmsg.SASLHandshakeRequest:
			resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = []string{"SCRAM-SHA-512"}
			return resp
		case *kmsg.SASLAuthenticateRequest:
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			step++
			if step == 1 {
				resp.SASLAuthBytes = []byte(srv.first(string(r.SASLAuthBytes)))
				return resp
			}
			final := srv.final(string(r.SASLAuthBytes))
			if strings.HasPrefix(final, "e=") {
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				resp.ErrorMessage = kmsg.StringPtr("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
				return resp
			}
			if tamper != nil {
				final = tamper(final)
			}
			resp.SASLAuthBytes = []byte(final)
			return resp
		}
		return nil
	})
}

func TestScramSHA512(t *testing.T) {
	const pw = "scram-secret-512"
	if _, err := dial(t, scramBroker(t, pw, nil).addr(), mustNew(t, ScramSHA512, "alice", pw), 10*time.Second); err != nil {
		t.Fatalf("right password: %v", err)
	}
	_, err := dial(t, scramBroker(t, pw, nil).addr(), mustNew(t, ScramSHA512, "alice", "not-"+pw), 10*time.Second)
	if !errors.Is(err, kerr.ErrAuthentication) || !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: want ErrAuthentication and SaslAuthenticationFailed, got %v", err)
	}
	noSecret(t, err, "not-"+pw, pw)
}

// A server that accepts any proof but cannot sign (it does not hold the
// credential: an impostor) is refused.
func TestScramImpostorServer(t *testing.T) {
	const pw = "scram-secret-512"
	b := scramBroker(t, pw, func(final string) string {
		return "v=" + strings.Repeat("A", len(final)-2)
	})
	_, err := dial(t, b.addr(), mustNew(t, ScramSHA512, "alice", pw), 10*time.Second)
	if !errors.Is(err, kerr.ErrAuthentication) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("want ErrAuthentication about the server's signature, got %v", err)
	}
	noSecret(t, err, pw)
}

// A connection that drops during the exchange is a connection failure, to
// be retried, not a verdict on the credentials.
func TestTransportFailureIsNotAVerdict(t *testing.T) {
	b := newFakeBroker(t, func(req kmsg.Request) kmsg.Response {
		if r, ok := req.(*kmsg.SASLHandshakeRequest); ok {
			return r.ResponseKind()
		}
		return nil // close on SaslAuthenticate
	})
	_, err := dial(t, b.addr(), mustNew(t, Plain, "alice", "pw-secret"), 5*time.Second)
	if !errors.Is(err, kerr.ErrConnection) || errors.Is(err, kerr.ErrAuthentication) {
		t.Fatalf("want ErrConnection and not ErrAuthentication, got %v", err)
	}
	noSecret(t, err, "pw-secret")
}

// A broker that never answers SaslAuthenticate does not hang Dial: the
// exchange is bounded by the dial timeout.
func TestSilentBroker(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := newFakeBroker(t, func(req kmsg.Request) kmsg.Response {
		if r, ok := req.(*kmsg.SASLHandshakeRequest); ok {
			return r.ResponseKind()
		}
		<-release
		return nil
	})
	start := time.Now()
	_, err := dial(t, b.addr(), mustNew(t, Plain, "alice", "pw"), 500*time.Millisecond)
	if err == nil {
		t.Fatal("a silent broker authenticated")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %v with a 500ms dial timeout", d)
	}
	if errors.Is(err, kerr.ErrAuthentication) {
		t.Fatalf("a timeout is not a verdict: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []struct {
		mech           Mechanism
		user, password string
		field          string
	}{
		{"", "u", "p", "SASLConfig.Mechanism"},
		{"GSSAPI", "u", "p", "SASLConfig.Mechanism"},
		{Plain, "", "p", "SASLConfig.Username"},
		{Plain, "u\x00x", "p", "SASLConfig.Username"},
		{ScramSHA256, "\xff", "p", "SASLConfig.Username"},
		{Plain, "u", "", "SASLConfig.Password"},
		{Plain, "u", "p\x00secret", "SASLConfig.Password"},
		{ScramSHA512, "u", "\xffsecret", "SASLConfig.Password"},
	} {
		_, err := New(c.mech, c.user, c.password)
		var ce *kerr.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("New(%q, %q, ...): want a ConfigError on %s, got %v", c.mech, c.user, c.field, err)
			continue
		}
		noSecret(t, err, "secret")
	}
	if _, err := New(ScramSHA256, "a,b=c", "p\x00ok-in-scram"); err != nil {
		t.Errorf("SCRAM escapes names and carries any UTF-8 password: %v", err)
	}
}

func TestAuthenticatorFormatting(t *testing.T) {
	a := mustNew(t, ScramSHA256, "alice", "hunter2-secret")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out := fmt.Sprintf(verb, a)
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("%s shows the password: %s", verb, out)
		}
	}
	if !strings.Contains(a.String(), "alice") || !strings.Contains(a.String(), "SCRAM-SHA-256") {
		t.Errorf("String: %s", a)
	}
	// Inside a struct printed with %+v (as an Options value would be).
	out := fmt.Sprintf("%+v", wire.Options{SASL: a})
	if strings.Contains(out, "hunter2") {
		t.Errorf("wire.Options shows the password: %s", out)
	}
}
