package testinstance_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/sasl"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSecurityListeners starts a one-broker cluster with every kind of
// secured listener and talks to each with gokafka's connection: the
// listeners exist, authenticate who they should, and advertise themselves
// in Metadata. The client API is tested over the same listeners in the root
// package (security_test.go).
func TestSecurityListeners(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const user, password = "alice", "alice-Secret-1"
	c, err := testinstance.Start(ctx, testinstance.Config{
		Brokers: 1, NoZooKeeper: true, Log: testhelp.LogWriter(t),
		Security: &testinstance.SecurityConfig{
			Users: []testinstance.User{{Name: user, Password: password}},
			Listeners: []testinstance.Listener{
				{Name: "SASL", Protocol: testinstance.SASLPlaintext},
				{Name: "SCRAM_ONLY", Protocol: testinstance.SASLPlaintext, Mechanisms: []string{testinstance.MechanismScramSHA512}},
				{Name: "TLS", Protocol: testinstance.SSL},
				{Name: "MTLS", Protocol: testinstance.SSL, ClientAuth: true},
				{Name: "SASL_TLS", Protocol: testinstance.SASLSSL},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, name := range []string{"SASL", "SCRAM_ONLY", "TLS", "MTLS", "SASL_TLS"} {
		addrs := c.Listener(name)
		if len(addrs) != 1 || addrs[0] == c.Broker(0) {
			t.Fatalf("Listener(%s) = %v", name, addrs)
		}
	}
	if c.Listener("NOPE") != nil || c.CA() == nil {
		t.Fatal("Listener of an unknown name, or no CA")
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "tls", "ca.pem")); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.CA().CertPEM)
	certPEM, keyPEM, err := c.CA().Issue("client")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(mech sasl.Mechanism, pw string) wire.Authenticator {
		a, err := sasl.New(mech, user, pw)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// metadataVia dials listener with opts and checks that Metadata
	// advertises that listener's address (not PLAINTEXT's).
	metadataVia := func(listener string, opts wire.Options) error {
		addr := c.Listener(listener)[0]
		opts.DialTimeout = 30 * time.Second
		conn, err := wire.Dial(ctx, addr, opts)
		if err != nil {
			return err
		}
		defer conn.Close()
		r, err := conn.Request(ctx, kmsg.NewPtrMetadataRequest())
		if err != nil {
			return err
		}
		m := r.(*kmsg.MetadataResponse)
		if len(m.Brokers) != 1 || m.Brokers[0].Host != "127.0.0.1" || !strings.HasSuffix(addr, ":"+strconv.Itoa(int(m.Brokers[0].Port))) {
			t.Errorf("%s: metadata advertises %+v, want %s", listener, m.Brokers, addr)
		}
		return nil
	}

	for _, mech := range []sasl.Mechanism{sasl.Plain, sasl.ScramSHA256, sasl.ScramSHA512} {
		if err := metadataVia("SASL", wire.Options{SASL: auth(mech, password)}); err != nil {
			t.Errorf("SASL %s: %v", mech, err)
		}
		err := metadataVia("SASL", wire.Options{SASL: auth(mech, "wrong-"+password)})
		if !errors.Is(err, kerr.ErrAuthentication) || !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("SASL %s with a wrong password: %v", mech, err)
		}
	}
	if err := metadataVia("SCRAM_ONLY", wire.Options{SASL: auth(sasl.ScramSHA512, password)}); err != nil {
		t.Errorf("SCRAM_ONLY: %v", err)
	}
	if err := metadataVia("SCRAM_ONLY", wire.Options{SASL: auth(sasl.Plain, password)}); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("PLAIN on a SCRAM-SHA-512 listener: %v", err)
	}
	if err := metadataVia("TLS", wire.Options{TLS: &tls.Config{RootCAs: roots}}); err != nil {
		t.Errorf("TLS: %v", err)
	}
	if err := metadataVia("TLS", wire.Options{TLS: &tls.Config{}}); !errors.Is(err, kerr.ErrAuthentication) {
		t.Errorf("TLS without trusting the CA: %v", err)
	}
	if err := metadataVia("MTLS", wire.Options{TLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}}); err != nil {
		t.Errorf("MTLS: %v", err)
	}
	if err := metadataVia("MTLS", wire.Options{TLS: &tls.Config{RootCAs: roots}}); !errors.Is(err, kerr.ErrAuthentication) {
		t.Errorf("MTLS without a client certificate: %v", err)
	}
	if err := metadataVia("SASL_TLS", wire.Options{TLS: &tls.Config{RootCAs: roots}, SASL: auth(sasl.ScramSHA256, password)}); err != nil {
		t.Errorf("SASL_TLS: %v", err)
	}
}

func TestSecurityConfigValidation(t *testing.T) {
	ctx := context.Background()
	for _, s := range []*testinstance.SecurityConfig{
		{Listeners: []testinstance.Listener{{Name: "sasl", Protocol: testinstance.SASLPlaintext}}, Users: []testinstance.User{{Name: "a", Password: "b"}}},
		{Listeners: []testinstance.Listener{{Name: "PLAINTEXT", Protocol: testinstance.SSL}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: "KERBEROS"}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SASLPlaintext}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SASLPlaintext, ClientAuth: true}}, Users: []testinstance.User{{Name: "a", Password: "b"}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SSL, Mechanisms: []string{"PLAIN"}}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SASLPlaintext, Mechanisms: []string{"GSSAPI"}}}, Users: []testinstance.User{{Name: "a", Password: "b"}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SASLPlaintext}}, Users: []testinstance.User{{Name: "a", Password: "b,c"}}},
		{Listeners: []testinstance.Listener{{Name: "X", Protocol: testinstance.SSL}, {Name: "X", Protocol: testinstance.SSL}}},
	} {
		// Validation happens before anything is resolved or started:
		// a bad Java path would fail later, not first.
		_, err := testinstance.Start(ctx, testinstance.Config{Security: s, Java: "/nonexistent/java"})
		if err == nil || errors.Is(err, testinstance.ErrJavaMissing) || !strings.Contains(err.Error(), "Security.") {
			t.Errorf("%+v: want a Security validation error, got %v", s, err)
		}
	}
}
