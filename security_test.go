package kafka_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/rdkafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// The security tests need brokers with SASL and TLS listeners, which the
// shared cluster of TestMain (and an external BROKERS cluster) does not
// have: TestSecurity starts its own one-broker cluster and closes it when
// its subtests are done.

const (
	secUser     = "alice"
	secPassword = "Alice-pw-7c1d9e"
	// wrongPassword differs from secPassword in more than a suffix, so a
	// leak of either is told apart in the scans.
	wrongPassword = "Mallory-pw-0b55"
)

// Listener names of the secure cluster.
const (
	lnSASL    = "SASL"     // SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	lnTLS     = "TLS"      // SSL, server certificate only
	lnMTLS    = "MTLS"     // SSL, ssl.client.auth=required
	lnSASLTLS = "SASL_TLS" // SASL_SSL
)

// secureEnv is the secure cluster and what tests need to reach it.
type secureEnv struct {
	cluster *testinstance.Cluster
	caPEM   []byte // the cluster's CA
	certPEM []byte // a client certificate the cluster trusts
	keyPEM  []byte
	// A CA and a client certificate the cluster does not know.
	otherCAPEM, otherCertPEM, otherKeyPEM []byte
	// logs collects what every client of the tests logged; TestSecurity
	// scans it for secrets at the end.
	logs *testhelp.Buffer
}

func startSecureCluster(t *testing.T) *secureEnv {
	t.Helper()
	ctx := testhelp.Ctx(t, 5*time.Minute)
	c, err := testinstance.Start(ctx, testinstance.Config{
		Brokers: 1, NoZooKeeper: true,
		Security: &testinstance.SecurityConfig{
			Users: []testinstance.User{{Name: secUser, Password: secPassword}},
			Listeners: []testinstance.Listener{
				{Name: lnSASL, Protocol: testinstance.SASLPlaintext},
				{Name: lnTLS, Protocol: testinstance.SSL},
				{Name: lnMTLS, Protocol: testinstance.SSL, ClientAuth: true},
				{Name: lnSASLTLS, Protocol: testinstance.SASLSSL},
			},
		},
	})
	if err != nil {
		t.Fatalf("secure cluster: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	env := &secureEnv{cluster: c, caPEM: c.CA().CertPEM, logs: &testhelp.Buffer{}}
	if env.certPEM, env.keyPEM, err = c.CA().Issue("gokafka-test-client"); err != nil {
		t.Fatal(err)
	}
	other, err := testinstance.NewCA("not the cluster's CA")
	if err != nil {
		t.Fatal(err)
	}
	env.otherCAPEM = other.CertPEM
	if env.otherCertPEM, env.otherKeyPEM, err = other.Issue("stranger", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return env
}

// secrets are the strings that must never appear in errors or logs.
func (e *secureEnv) secrets() []string {
	return []string{secPassword, wrongPassword, string(pemBody(e.keyPEM)), string(pemBody(e.otherKeyPEM))}
}

// pemBody is the first base64 line of a PEM block: enough to spot a leak.
func pemBody(p []byte) []byte {
	lines := bytes.Split(p, []byte("\n"))
	if len(lines) < 2 {
		return p
	}
	return lines[1]
}

func (e *secureEnv) assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range e.secrets() {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s shows a secret (%.12s...): %s", what, s, text)
		}
	}
}

// newClient connects to listener with opts; it logs at Debug into e.logs.
func (e *secureEnv) newClient(ctx context.Context, listener string, opts ...kafka.ClientOption) (*kafka.Client, error) {
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]kafka.ClientOption{kafka.WithLogger(logger), kafka.WithClientID("gokafka-security-test")}, opts...)
	return kafka.NewClient(ctx, e.cluster.ListenerServers(listener), opts...)
}

func (e *secureEnv) mustClient(t *testing.T, listener string, opts ...kafka.ClientOption) *kafka.Client {
	t.Helper()
	c, err := e.newClient(testhelp.Ctx(t, 60*time.Second), listener, opts...)
	if err != nil {
		t.Fatalf("NewClient on %s: %v", listener, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *secureEnv) tlsTrusted() kafka.TLSConfig { return kafka.TLSConfig{CAPEM: e.caPEM} }

func (e *secureEnv) tlsWithCert() kafka.TLSConfig {
	return kafka.TLSConfig{CAPEM: e.caPEM, CertPEM: e.certPEM, KeyPEM: e.keyPEM}
}

func saslLogin(m kafka.SASLMechanism, password string) kafka.SASLConfig {
	return kafka.SASLConfig{Mechanism: m, Username: secUser, Password: password}
}

// secureTopic creates a one-partition topic through client (so topic
// administration works over the secured listener too).
func secureTopic(t *testing.T, client *kafka.Client) *kafka.Topic {
	t.Helper()
	topic, err := client.CreateTopic(testhelp.Ctx(t, 60*time.Second), testhelp.UniqueName(t, "t"), kafka.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	return topic
}

// roundTrip produces n messages with the engine and reads them back with
// the same engine.
func roundTrip(t *testing.T, client *kafka.Client, e engineCase) {
	t.Helper()
	topic := secureTopic(t, client)
	const n = 20
	ctx := testhelp.Ctx(t, 2*time.Minute)
	p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, UseRdkafka: e.rdkafka})
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	for i := range n {
		if err := p.ProduceMessage(ctx, &kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "secure value %d", i)}); err != nil {
			t.Fatalf("Produce %d: %v", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("producer Close: %v", err)
	}
	cons, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
	if err != nil {
		t.Fatalf("NewSimpleConsumer: %v", err)
	}
	defer cons.Close(context.Background())
	for i, m := range consumeN(t, cons, n) {
		if want := fmt.Sprintf("secure value %d", i); string(m.Value) != want || m.Offset != int64(i) {
			t.Fatalf("message %d: offset %d value %q, want offset %d %q", i, m.Offset, m.Value, i, want)
		}
	}
}

// engineAvailable runs the rdkafka case only where the engine is compiled
// in; elsewhere it checks that asking for it fails with ErrEngineNotEnabled.
func engineAvailable(t *testing.T, e engineCase, client *kafka.Client) bool {
	t.Helper()
	if !e.rdkafka || rdkafka.Enabled {
		return true
	}
	topic := secureTopic(t, client)
	if _, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: true}); !errors.Is(err, kafka.ErrEngineNotEnabled) {
		t.Fatalf("UseRdkafka without the engine: %v", err)
	}
	if _, err := topic.NewSimpleConsumer(context.Background(), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: true}}); !errors.Is(err, kafka.ErrEngineNotEnabled) {
		t.Fatalf("UseRdkafka without the engine: %v", err)
	}
	return false
}

func TestSecurity(t *testing.T) {
	env := startSecureCluster(t)

	roundTrips := []struct {
		name     string
		listener string
		opts     func() []kafka.ClientOption
	}{
		{"SASL_PLAINTEXT/PLAIN", lnSASL, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithSASL(saslLogin(kafka.SASLPlain, secPassword))}
		}},
		{"SASL_PLAINTEXT/SCRAM-SHA-256", lnSASL, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithSASL(saslLogin(kafka.SASLScramSHA256, secPassword))}
		}},
		{"SASL_PLAINTEXT/SCRAM-SHA-512", lnSASL, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithSASL(saslLogin(kafka.SASLScramSHA512, secPassword))}
		}},
		{"SSL/server-verified", lnTLS, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted())}
		}},
		{"SSL/client-certificate", lnMTLS, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithTLSConfig(env.tlsWithCert())}
		}},
		{"SASL_SSL/SCRAM-SHA-512", lnSASLTLS, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted()), kafka.WithSASL(saslLogin(kafka.SASLScramSHA512, secPassword))}
		}},
		{"SASL_SSL/PLAIN", lnSASLTLS, func() []kafka.ClientOption {
			return []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted()), kafka.WithSASL(saslLogin(kafka.SASLPlain, secPassword))}
		}},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, rt := range roundTrips {
				t.Run(rt.name, func(t *testing.T) {
					client := env.mustClient(t, rt.listener, rt.opts()...)
					if engineAvailable(t, e, client) {
						roundTrip(t, client, e)
					}
				})
			}
		})
	}

	t.Run("pure/failures", func(t *testing.T) { pureFailures(t, env) })
	t.Run("rdkafka/failures", func(t *testing.T) {
		client := env.mustClient(t, lnSASL, kafka.WithSASL(saslLogin(kafka.SASLScramSHA256, secPassword)))
		if !engineAvailable(t, engineCase{"rdkafka", true}, client) {
			return
		}
		rdkafkaFailures(t, env)
	})

	// Every error was scanned as it came; the logs of every client of
	// every subtest (Debug level, librdkafka's included) are scanned here.
	logs := env.logs.String()
	if logs == "" {
		t.Error("no client logged anything: the scan below would prove nothing")
	}
	if rdkafka.Enabled && !strings.Contains(logs, "SASL SCRAM client") {
		t.Error("librdkafka's SASL debug logs were not captured: the scan below would not cover them")
	}
	env.assertNoSecret(t, "client logs", logs)
	// SCRAM's client-final-message carries the proof: no log shows one.
	if m := regexp.MustCompile(`c=biws,r=[^,\s]+,p=`).FindString(logs); m != "" {
		t.Errorf("a log shows a SCRAM client-final-message: %s", m)
	}
}

// pureFailures: the client's own connections (used by the pure engine and
// for metadata by both engines) refuse bad credentials at NewClient, with a
// typed error, quickly.
func pureFailures(t *testing.T, env *secureEnv) {
	type failure struct {
		name     string
		listener string
		opts     []kafka.ClientOption
		sasl     bool // the broker rejected SASL credentials
	}
	var cases []failure
	for _, m := range []kafka.SASLMechanism{kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512} {
		cases = append(cases, failure{"wrong-password/" + string(m), lnSASL,
			[]kafka.ClientOption{kafka.WithSASL(saslLogin(m, wrongPassword))}, true})
	}
	cases = append(cases,
		failure{"unknown-user", lnSASL, []kafka.ClientOption{kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLScramSHA512, Username: "mallory", Password: wrongPassword})}, true},
		failure{"wrong-password-over-TLS", lnSASLTLS, []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted()), kafka.WithSASL(saslLogin(kafka.SASLScramSHA256, wrongPassword))}, true},
		failure{"untrusted-server-certificate", lnTLS, []kafka.ClientOption{kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: env.otherCAPEM})}, false},
		failure{"server-certificate-checked-against-system-roots", lnTLS, []kafka.ClientOption{kafka.WithTLSConfig(kafka.TLSConfig{})}, false},
		failure{"wrong-server-name", lnTLS, []kafka.ClientOption{kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: env.caPEM, ServerName: "kafka.example.com"})}, false},
		failure{"missing-client-certificate", lnMTLS, []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted())}, false},
		failure{"untrusted-client-certificate", lnMTLS, []kafka.ClientOption{kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: env.caPEM, CertPEM: env.otherCertPEM, KeyPEM: env.otherKeyPEM})}, false},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const limit = 30 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			start := time.Now()
			client, err := env.newClient(ctx, c.listener, c.opts...)
			if err == nil {
				client.Close()
				t.Fatal("NewClient succeeded")
			}
			if took := time.Since(start); took > limit/2 {
				t.Errorf("NewClient took %v to fail: it should fail at the first refusal, not at the deadline", took)
			}
			if !errors.Is(err, kafka.ErrAuthentication) {
				t.Errorf("want ErrAuthentication, got %v", err)
			}
			if c.sasl != errors.Is(err, kafka.ErrSaslAuthenticationFailed) {
				t.Errorf("ErrSaslAuthenticationFailed: want %v, got %v", c.sasl, err)
			}
			env.assertNoSecret(t, "error", err.Error())
		})
	}

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		client := env.mustClient(t, lnTLS, kafka.WithTLSConfig(kafka.TLSConfig{InsecureSkipVerify: true}))
		roundTrip(t, client, engineCase{"pure", false})
	})
	t.Run("WithTLS", func(t *testing.T) {
		// A Go *tls.Config works for the pure engine...
		client := env.mustClient(t, lnTLS, kafka.WithTLS(&tls.Config{InsecureSkipVerify: true}))
		roundTrip(t, client, engineCase{"pure", false})
		// ...and cannot reach librdkafka.
		for _, err := range rdkafkaRefusals(t, client) {
			var ce *kafka.ConfigError
			switch {
			case !rdkafka.Enabled:
				if !errors.Is(err, kafka.ErrEngineNotEnabled) {
					t.Errorf("without the engine: %v", err)
				}
			case !errors.As(err, &ce) || ce.Field != "WithTLS":
				t.Errorf("UseRdkafka with WithTLS: want a ConfigError on WithTLS, got %v", err)
			}
		}
	})
}

// rdkafkaRefusals starts a librdkafka producer and consumer of a topic of
// client, whose settings librdkafka cannot honour, and returns their errors.
func rdkafkaRefusals(t *testing.T, client *kafka.Client) []error {
	topic := secureTopic(t, client)
	_, perr := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: true})
	_, cerr := topic.NewSimpleConsumer(context.Background(), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: true}})
	return []error{perr, cerr}
}

// rdkafkaFailures: librdkafka opens its own connections, so the client
// (whose credentials are right) cannot stop it from failing to
// authenticate: the wrong setting reaches it through RdkafkaConfig, which
// is applied over what the engine derived from the client. librdkafka
// reports such failures as error events, which the engine turns into
// typed errors for the messages and fetches waiting on them.
func rdkafkaFailures(t *testing.T, env *secureEnv) {
	t.Run("ServerName", func(t *testing.T) {
		// The pure engine checks the name given; librdkafka can only
		// check the broker's own host name, so it refuses.
		client := env.mustClient(t, lnTLS, kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: env.caPEM, ServerName: "127.0.0.1"}))
		roundTrip(t, client, engineCase{"pure", false})
		for _, err := range rdkafkaRefusals(t, client) {
			var ce *kafka.ConfigError
			if !errors.As(err, &ce) || ce.Field != "TLSConfig.ServerName" {
				t.Errorf("UseRdkafka with a ServerName: want a ConfigError on TLSConfig.ServerName, got %v", err)
			}
		}
	})
	cases := []struct {
		name     string
		listener string
		opts     []kafka.ClientOption
		raw      map[string]any
		sasl     bool
	}{
		{"wrong-password/PLAIN", lnSASL, []kafka.ClientOption{kafka.WithSASL(saslLogin(kafka.SASLPlain, secPassword))},
			map[string]any{"sasl.password": wrongPassword}, true},
		{"wrong-password/SCRAM-SHA-512", lnSASL, []kafka.ClientOption{kafka.WithSASL(saslLogin(kafka.SASLScramSHA512, secPassword))},
			map[string]any{"sasl.password": wrongPassword}, true},
		{"wrong-password-over-TLS", lnSASLTLS, []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted()), kafka.WithSASL(saslLogin(kafka.SASLScramSHA256, secPassword))},
			map[string]any{"sasl.password": wrongPassword}, true},
		{"untrusted-server-certificate", lnTLS, []kafka.ClientOption{kafka.WithTLSConfig(env.tlsTrusted())},
			map[string]any{"ssl.ca.pem": string(env.otherCAPEM)}, false},
		{"untrusted-client-certificate", lnMTLS, []kafka.ClientOption{kafka.WithTLSConfig(env.tlsWithCert())},
			map[string]any{"ssl.certificate.pem": string(env.otherCertPEM), "ssl.key.pem": string(env.otherKeyPEM)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := env.mustClient(t, c.listener, c.opts...)
			topic := secureTopic(t, client)
			// librdkafka's own debug logs of the security layer go to
			// the client's logger too: they are scanned for secrets.
			raw := map[string]any{"debug": "security,broker"}
			for k, v := range c.raw {
				raw[k] = v
			}
			check := func(what string, err error, took time.Duration, limit time.Duration) {
				t.Helper()
				if !errors.Is(err, kafka.ErrAuthentication) {
					t.Errorf("%s: want ErrAuthentication, got %v", what, err)
				} else if c.sasl && !errors.Is(err, kafka.ErrSaslAuthenticationFailed) {
					t.Errorf("%s: want ErrSaslAuthenticationFailed too, got %v", what, err)
				}
				if took > limit {
					t.Errorf("%s took %v (limit %v)", what, took, limit)
				}
				if err != nil {
					env.assertNoSecret(t, what, err.Error())
				}
			}

			const deliveryTimeout = 10 * time.Second
			p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, UseRdkafka: true, DeliveryTimeout: deliveryTimeout, RdkafkaConfig: raw})
			if err != nil {
				t.Fatalf("NewProducer: %v", err)
			}
			ctx := testhelp.Ctx(t, time.Minute)
			start := time.Now()
			err = p.Produce(ctx, []byte("never delivered"))
			check("Produce", err, time.Since(start), deliveryTimeout+10*time.Second)
			p.Close(testhelp.Ctx(t, 30*time.Second))

			cons, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: true, RdkafkaConfig: raw}})
			if err != nil {
				t.Fatalf("NewSimpleConsumer: %v", err)
			}
			defer cons.Close(context.Background())
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			start = time.Now()
			_, err = cons.Consume(cctx)
			check("Consume", err, time.Since(start), 25*time.Second)
		})
	}
}

// TestSecurityConfigValidation: bad security settings fail at NewClient
// with a *ConfigError naming the field, before any connection, and never
// show the secret.
func TestSecurityConfigValidation(t *testing.T) {
	ca, err := testinstance.NewCA("validation")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("c")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ca.Issue("d")
	cases := []struct {
		field string
		opt   kafka.ClientOption
	}{
		{"SASLConfig.Mechanism", kafka.WithSASL(kafka.SASLConfig{Username: "u", Password: secPassword})},
		{"SASLConfig.Mechanism", kafka.WithSASL(kafka.SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: secPassword})},
		{"SASLConfig.Username", kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLPlain, Password: secPassword})},
		{"SASLConfig.Password", kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLScramSHA256, Username: "u"})},
		{"SASLConfig.Password", kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLPlain, Username: "u", Password: secPassword + "\x00"})},
		{"TLSConfig.CAPEM", kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: []byte("not pem")})},
		{"TLSConfig.CAPEM", kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: key})},
		{"TLSConfig.KeyPEM", kafka.WithTLSConfig(kafka.TLSConfig{CertPEM: cert})},
		{"TLSConfig.CertPEM", kafka.WithTLSConfig(kafka.TLSConfig{KeyPEM: key})},
		{"TLSConfig.CertPEM", kafka.WithTLSConfig(kafka.TLSConfig{CertPEM: []byte("junk"), KeyPEM: key})},
		{"TLSConfig.KeyPEM", kafka.WithTLSConfig(kafka.TLSConfig{CertPEM: cert, KeyPEM: otherKey})},
	}
	for _, c := range cases {
		// An address nobody listens on: validation must fail first.
		_, err := kafka.NewClient(testhelp.Ctx(t, 10*time.Second), "127.0.0.1:1", c.opt)
		var ce *kafka.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("want a ConfigError on %s, got %v", c.field, err)
			continue
		}
		for _, s := range []string{secPassword, string(pemBody(key)), string(pemBody(otherKey))} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
	}
}

// TestSecurityConfigRedaction: however a SASLConfig or TLSConfig is
// printed or logged, the password and the private key stay out.
func TestSecurityConfigRedaction(t *testing.T) {
	const keyPEM = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
	s := kafka.SASLConfig{Mechanism: kafka.SASLScramSHA512, Username: "alice", Password: secPassword}
	tc := kafka.TLSConfig{CAPEM: []byte("ca"), CertPEM: []byte("cert"), KeyPEM: []byte(keyPEM), ServerName: "kafka.internal"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, tc), fmt.Sprintf(verb, &tc))
	}
	// Nested in other values.
	outs = append(outs, fmt.Sprintf("%+v", struct {
		S kafka.SASLConfig
		T *kafka.TLSConfig
	}{s, &tc}), fmt.Sprint([]kafka.SASLConfig{s}), s.String(), tc.String(), s.GoString())
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "sasl", s, "tls", tc, "saslp", &s)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "sasl", s, "tls", tc, "saslp", &s)
	outs = append(outs, text.String(), js.String())
	for _, out := range outs {
		for _, secret := range []string{secPassword, "TOPSECRETKEYMATERIAL", fmt.Sprintf("%x", secPassword), fmt.Sprintf("%X", secPassword)} {
			if strings.Contains(out, secret) {
				t.Errorf("output shows a secret: %s", out)
			}
		}
	}
	// The redacted forms still say what matters.
	if got := s.String(); !strings.Contains(got, "alice") || !strings.Contains(got, "SCRAM-SHA-512") || !strings.Contains(got, "[redacted]") {
		t.Errorf("SASLConfig.String: %s", got)
	}
	if got := tc.String(); !strings.Contains(got, "kafka.internal") || !strings.Contains(got, "[redacted]") {
		t.Errorf("TLSConfig.String: %s", got)
	}
	var decoded map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("JSON log line: %v", err)
	}
	if got := fmt.Sprint(decoded["sasl"]); !strings.Contains(got, "alice") {
		t.Errorf("slog JSON lost the user: %s", got)
	}
}
