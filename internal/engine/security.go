package engine

import "fmt"

// Security is how an engine's own connections must authenticate. The pure
// engine uses the client's connections, which are already secured, and
// ignores it; the rdkafka engine maps it onto librdkafka properties
// (security.protocol, sasl.*, ssl.*). The zero value is plaintext.
type Security struct {
	// TLS, when set, wraps connections in TLS.
	TLS *TLSData
	// SASL, when set, authenticates connections.
	SASL *SASLData
	// OpaqueTLS is set when the client was given a Go *tls.Config
	// (kafka.WithTLS), which only the pure engine can use: an engine that
	// cannot must refuse to start rather than connect without TLS.
	OpaqueTLS bool
}

// TLSData is a TLS configuration as PEM data, the form librdkafka takes
// (ssl.ca.pem, ssl.certificate.pem, ssl.key.pem). The root validated it.
type TLSData struct {
	CAPEM              []byte // trusted CAs; empty: the system's
	CertPEM, KeyPEM    []byte // client certificate and key, both or neither
	ServerName         string // expected server name; empty: the broker's host
	InsecureSkipVerify bool
}

// String leaves out the private key.
func (t TLSData) String() string {
	return fmt.Sprintf("engine.TLSData{CA: %d bytes, Cert: %d bytes, Key: [redacted], ServerName: %q, InsecureSkipVerify: %v}",
		len(t.CAPEM), len(t.CertPEM), t.ServerName, t.InsecureSkipVerify)
}

// GoString is String.
func (t TLSData) GoString() string { return t.String() }

// Format prints String for every verb.
func (t TLSData) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// SASLData is a SASL login. Mechanism is Kafka's name for it: PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512. The root validated it.
type SASLData struct {
	Mechanism string
	Username  string
	Password  string
}

// String leaves out the password.
func (s SASLData) String() string {
	return fmt.Sprintf("engine.SASLData{Mechanism: %s, Username: %q, Password: [redacted]}", s.Mechanism, s.Username)
}

// GoString is String.
func (s SASLData) GoString() string { return s.String() }

// Format prints String for every verb.
func (s SASLData) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }
