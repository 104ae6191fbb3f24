//go:build cgo && !nordkafka

package rdkafka

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// TestSecurityProps: the client's TLS and SASL data reach librdkafka's
// properties. The root package's security_test.go proves them on real
// SASL and TLS listeners.
func TestSecurityProps(t *testing.T) {
	tlsData := &engine.TLSData{CAPEM: []byte("CA"), CertPEM: []byte("CERT"), KeyPEM: []byte("KEY")}
	saslData := &engine.SASLData{Mechanism: "SCRAM-SHA-512", Username: "alice", Password: "pw"}
	for _, c := range []struct {
		name string
		sec  engine.Security
		want map[string]string
		none []string
	}{
		{"plaintext", engine.Security{}, nil, []string{"security.protocol", "sasl.mechanisms", "ssl.ca.pem"}},
		{"sasl", engine.Security{SASL: saslData}, map[string]string{
			"security.protocol": "sasl_plaintext", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice", "sasl.password": "pw",
		}, []string{"ssl.ca.pem", "ssl.endpoint.identification.algorithm"}},
		{"tls", engine.Security{TLS: tlsData}, map[string]string{
			"security.protocol": "ssl", "ssl.ca.pem": "CA", "ssl.certificate.pem": "CERT", "ssl.key.pem": "KEY",
			"enable.ssl.certificate.verification": "true", "ssl.endpoint.identification.algorithm": "https",
		}, []string{"sasl.mechanisms"}},
		{"tls-system-roots-no-cert", engine.Security{TLS: &engine.TLSData{}}, map[string]string{
			"security.protocol": "ssl", "ssl.endpoint.identification.algorithm": "https",
		}, []string{"ssl.ca.pem", "ssl.certificate.pem", "ssl.key.pem"}},
		{"tls-insecure", engine.Security{TLS: &engine.TLSData{InsecureSkipVerify: true}}, map[string]string{
			"enable.ssl.certificate.verification": "false", "ssl.endpoint.identification.algorithm": "none",
		}, nil},
		{"sasl_ssl", engine.Security{TLS: tlsData, SASL: saslData}, map[string]string{
			"security.protocol": "sasl_ssl", "sasl.username": "alice", "ssl.ca.pem": "CA",
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newProps()
			if err := p.security(c.sec); err != nil {
				t.Fatal(err)
			}
			for k, v := range c.want {
				if got := p.m[k]; got != v {
					t.Errorf("%s = %v, want %q", k, got, v)
				}
			}
			for _, k := range c.none {
				if _, ok := p.m[k]; ok {
					t.Errorf("%s is set: %v", k, p.m[k])
				}
			}
		})
	}
}

func TestSecurityPropsRefused(t *testing.T) {
	for _, c := range []struct {
		sec   engine.Security
		field string
	}{
		{engine.Security{OpaqueTLS: true}, "WithTLS"},
		{engine.Security{OpaqueTLS: true, SASL: &engine.SASLData{Mechanism: "PLAIN", Username: "u", Password: "p"}}, "WithTLS"},
		{engine.Security{TLS: &engine.TLSData{ServerName: "kafka.internal"}}, "TLSConfig.ServerName"},
	} {
		err := newProps().security(c.sec)
		var ce *kerr.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: want a ConfigError on %s, got %v", c.sec, c.field, err)
		}
	}
}

// TestAuthError: which librdkafka error events mean "authentication
// failed", as librdkafka 2.11 words them.
func TestAuthError(t *testing.T) {
	for _, c := range []struct {
		code       kafka.ErrorCode
		msg        string
		auth, sasl bool
	}{
		{kafka.ErrAuthentication, "sasl_plaintext://127.0.0.1:1/1: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 5ms in state AUTH_REQ)", true, true},
		{kafka.ErrAuthentication, "sasl_plaintext://127.0.0.1:1/1: Failed to initialize SASL authentication: SASL Handshake not supported by broker", true, false},
		{kafka.ErrSsl, "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified", true, false},
		{kafka.ErrTransport, "ssl://127.0.0.1:1/bootstrap: Receive failed: ssl/record/rec_layer_s3.c:1605:ssl3_read_bytes error:0A000412:SSL routines::sslv3 alert bad certificate: SSL alert number 42 (after 8ms in state APIVERSION_QUERY)", true, false},
		{kafka.ErrTransport, "ssl://127.0.0.1:1/bootstrap: Receive failed: tlsv13 alert certificate required: SSL alert number 116", true, false},
		{kafka.ErrTransport, "ssl://127.0.0.1:1/bootstrap: Receive failed: decode error: SSL alert number 50", false, false},
		{kafka.ErrTransport, "127.0.0.1:1/1: Connection refused", false, false},
		{kafka.ErrAllBrokersDown, "1/1 brokers are down", false, false},
	} {
		ke := kafka.NewError(c.code, c.msg, false)
		err := authError(ke)
		if got := err != nil; got != c.auth {
			t.Errorf("%s: authentication failure %v, want %v", c.msg, got, c.auth)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, kerr.ErrAuthentication) || errors.Is(err, kerr.SaslAuthenticationFailed) != c.sasl {
			t.Errorf("%s: %v (want SaslAuthenticationFailed %v)", c.msg, err, c.sasl)
		}
		var ke2 kafka.Error
		if !errors.As(err, &ke2) {
			t.Errorf("%s: the librdkafka error is not in the chain: %v", c.msg, err)
		}
	}
}

// TestAuthWatch: a failure seen is added to failed deliveries until a
// delivery succeeds, and Poll takes it once.
func TestAuthWatch(t *testing.T) {
	var w authWatch
	timeout := fmt.Errorf("%w: message timed out", kerr.ErrDeliveryTimeout)
	if err := w.explain(timeout); err != timeout {
		t.Fatalf("nothing seen: %v", err)
	}
	if w.observe(kafka.NewError(kafka.ErrAllBrokersDown, "1/1 brokers are down", false)) {
		t.Fatal("a connection failure counted as an authentication failure")
	}
	if !w.observe(kafka.NewError(kafka.ErrAuthentication, "SASL authentication error: bad", false)) {
		t.Fatal("an authentication failure was not recognised")
	}
	err := w.explain(timeout)
	if !errors.Is(err, kerr.ErrDeliveryTimeout) || !errors.Is(err, kerr.ErrAuthentication) || !strings.Contains(err.Error(), "could not authenticate") {
		t.Fatalf("explain: %v", err)
	}
	w.ok()
	if err := w.explain(timeout); err != timeout {
		t.Fatalf("after a success: %v", err)
	}
	w.observe(kafka.NewError(kafka.ErrAuthentication, "SASL authentication error: bad", false))
	if err := w.take(); !errors.Is(err, kerr.ErrAuthentication) {
		t.Fatalf("take: %v", err)
	}
	if err := w.take(); err != nil {
		t.Fatalf("take twice: %v", err)
	}
}
