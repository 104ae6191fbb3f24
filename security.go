package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"slices"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/sasl"
)

// Security
//
// A client authenticates to brokers with TLS (WithTLSConfig), SASL
// (WithSASL), or both (a SASL_SSL listener):
//
//	client, err := kafka.NewClient(ctx, "broker1:9093",
//		kafka.WithTLSConfig(kafka.TLSConfig{CAPEM: caPEM}),
//		kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLScramSHA512, Username: "alice", Password: pw}))
//
// Both engines use the same settings: the pure engine through the client's
// connections, the librdkafka engine by mapping them onto its properties
// (security.protocol, sasl.*, ssl.ca.pem, ssl.certificate.pem, ssl.key.pem).
// That is why TLSConfig holds PEM data rather than a *tls.Config. WithTLS,
// which takes a *tls.Config, works with the pure engine only.
//
// Failed authentication — a wrong password, an untrusted server
// certificate, a client certificate the broker refuses — is an error
// matching ErrAuthentication (and ErrSaslAuthenticationFailed when the
// broker rejected SASL credentials). Passwords and private keys never
// appear in errors or logs, and SASLConfig and TLSConfig print redacted.

// SASLMechanism is a SASL mechanism, named as Kafka names it.
type SASLMechanism string

// The SASL mechanisms both engines support.
const (
	// SASLPlain sends the password to the broker (RFC 4616): use it over
	// TLS only.
	SASLPlain SASLMechanism = "PLAIN"
	// SASLScramSHA256 proves the password without sending it (RFC 7677).
	SASLScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	// SASLScramSHA512 is SCRAM with SHA-512.
	SASLScramSHA512 SASLMechanism = "SCRAM-SHA-512"
)

// SASLConfig is a SASL login. Every field is required.
//
// Printing a SASLConfig (fmt with any verb, String, GoString, or log/slog)
// shows the mechanism and the user, never the password.
type SASLConfig struct {
	Mechanism SASLMechanism
	Username  string
	Password  string
}

// String shows the mechanism and the user; the password is redacted.
func (c SASLConfig) String() string {
	return fmt.Sprintf("kafka.SASLConfig{Mechanism: %q, Username: %q, Password: %s}", string(c.Mechanism), c.Username, redacted(c.Password != ""))
}

// GoString is String, so that %#v redacts too.
func (c SASLConfig) GoString() string { return c.String() }

// Format prints String whatever the verb: fmt would otherwise print the
// fields, password included, for verbs such as %d or %x.
func (c SASLConfig) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// LogValue makes log/slog print the redacted form, with any handler.
func (c SASLConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mechanism", string(c.Mechanism)),
		slog.String("username", c.Username),
		slog.String("password", redacted(c.Password != "")),
	)
}

// TLSConfig is a TLS configuration as PEM data, which both engines can use.
// The zero value trusts the system's CAs, sends no client certificate and
// checks that the broker's certificate names the host dialled.
//
// Printing a TLSConfig shows sizes, never the private key.
type TLSConfig struct {
	// CAPEM holds the CA certificates that brokers' certificates must
	// chain to, in PEM. Empty: the system's trusted CAs.
	CAPEM []byte
	// CertPEM and KeyPEM are the client certificate (with any
	// intermediates) and its private key, in PEM, for brokers that
	// require client certificates (ssl.client.auth=required). Both or
	// neither.
	CertPEM []byte
	KeyPEM  []byte
	// ServerName is the name expected in brokers' certificates. Default:
	// the host of each broker's address. The librdkafka engine cannot
	// check another name, and refuses a TLSConfig that sets it.
	ServerName string
	// InsecureSkipVerify accepts any server certificate. For tests only:
	// anyone in the middle can read and change the traffic.
	InsecureSkipVerify bool
}

// String shows what is set, with the private key redacted.
func (c TLSConfig) String() string {
	return fmt.Sprintf("kafka.TLSConfig{CAPEM: %d bytes, CertPEM: %d bytes, KeyPEM: %s, ServerName: %q, InsecureSkipVerify: %v}",
		len(c.CAPEM), len(c.CertPEM), redacted(len(c.KeyPEM) > 0), c.ServerName, c.InsecureSkipVerify)
}

// GoString is String.
func (c TLSConfig) GoString() string { return c.String() }

// Format prints String whatever the verb.
func (c TLSConfig) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// LogValue makes log/slog print the redacted form.
func (c TLSConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("ca_pem_bytes", len(c.CAPEM)),
		slog.Int("cert_pem_bytes", len(c.CertPEM)),
		slog.String("key_pem", redacted(len(c.KeyPEM) > 0)),
		slog.String("server_name", c.ServerName),
		slog.Bool("insecure_skip_verify", c.InsecureSkipVerify),
	)
}

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "[empty]"
}

// WithTLSConfig connects to brokers over TLS, for both engines. Invalid
// PEM data makes NewClient fail with a *ConfigError naming the field
// (TLSConfig.CAPEM, TLSConfig.CertPEM, TLSConfig.KeyPEM). A later WithTLS
// replaces it.
func WithTLSConfig(cfg TLSConfig) ClientOption {
	return func(c *clientConfig) {
		built, err := cfg.build()
		if err != nil {
			c.setErr(err)
			return
		}
		kept := TLSConfig{
			CAPEM: slices.Clone(cfg.CAPEM), CertPEM: slices.Clone(cfg.CertPEM), KeyPEM: slices.Clone(cfg.KeyPEM),
			ServerName: cfg.ServerName, InsecureSkipVerify: cfg.InsecureSkipVerify,
		}
		c.tls = built
		c.security.tls = &kept
		c.security.builtTLS = built
	}
}

// WithSASL authenticates every broker connection with SASL, for both
// engines. An unknown mechanism, an empty user or password, or one that
// the mechanism cannot carry makes NewClient fail with a *ConfigError
// naming the field (SASLConfig.Mechanism, SASLConfig.Username,
// SASLConfig.Password). Over a plaintext connection PLAIN exposes the
// password to the network: combine it with WithTLSConfig.
func WithSASL(cfg SASLConfig) ClientOption {
	return func(c *clientConfig) {
		a, err := sasl.New(sasl.Mechanism(cfg.Mechanism), cfg.Username, cfg.Password)
		if err != nil {
			c.setErr(err)
			return
		}
		kept := cfg
		c.sasl = a
		c.security.sasl = &kept
	}
}

// securityConfig keeps the data of WithTLSConfig and WithSASL for engines
// that open their own connections (librdkafka).
type securityConfig struct {
	tls      *TLSConfig  // as given to WithTLSConfig
	builtTLS *tls.Config // what WithTLSConfig set clientConfig.tls to
	sasl     *SASLConfig
}

// engineSecurity is what engines receive (ProducerConfig and FetcherConfig
// of the engine contract).
func (c *clientConfig) engineSecurity() engine.Security {
	var s engine.Security
	if c.tls != nil {
		if t := c.security.tls; t != nil && c.tls == c.security.builtTLS {
			s.TLS = &engine.TLSData{
				CAPEM: t.CAPEM, CertPEM: t.CertPEM, KeyPEM: t.KeyPEM,
				ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify,
			}
		} else {
			// WithTLS: a *tls.Config that cannot be turned into PEM.
			s.OpaqueTLS = true
		}
	}
	if a := c.security.sasl; a != nil {
		s.SASL = &engine.SASLData{Mechanism: string(a.Mechanism), Username: a.Username, Password: a.Password}
	}
	return s
}

// build checks the PEM data and returns the Go TLS configuration of the
// pure engine's connections.
func (c TLSConfig) build() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
	if len(c.CAPEM) > 0 {
		certs, err := parseCertificates(c.CAPEM)
		if err != nil {
			return nil, kerr.Config("TLSConfig.CAPEM", "%v", err)
		}
		pool := x509.NewCertPool()
		for _, cert := range certs {
			pool.AddCert(cert)
		}
		cfg.RootCAs = pool
	}
	switch {
	case len(c.CertPEM) > 0 && len(c.KeyPEM) == 0:
		return nil, kerr.Config("TLSConfig.KeyPEM", "empty, but CertPEM is set: a client certificate needs its private key")
	case len(c.CertPEM) == 0 && len(c.KeyPEM) > 0:
		return nil, kerr.Config("TLSConfig.CertPEM", "empty, but KeyPEM is set: a private key needs its certificate")
	case len(c.CertPEM) > 0:
		if _, err := parseCertificates(c.CertPEM); err != nil {
			return nil, kerr.Config("TLSConfig.CertPEM", "%v", err)
		}
		// crypto/tls's errors name PEM block types and key types, never
		// key material.
		pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return nil, kerr.Config("TLSConfig.KeyPEM", "does not go with CertPEM: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// parseCertificates reads every CERTIFICATE block of data; there must be at
// least one, and nothing else that looks like PEM.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block, want CERTIFICATE blocks only", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate found")
	}
	return certs, nil
}
