//go:build cgo && !nordkafka

package rdkafka

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// Security: the client's TLS and SASL settings (engine.Security, from
// kafka.WithTLSConfig and kafka.WithSASL) become librdkafka properties, so
// that librdkafka's own connections authenticate as the client's do:
//
//	TLS and SASL      security.protocol=sasl_ssl
//	TLS               security.protocol=ssl
//	SASL              security.protocol=sasl_plaintext
//	TLSData.CAPEM     ssl.ca.pem
//	TLSData.CertPEM   ssl.certificate.pem, with KeyPEM as ssl.key.pem
//	verification      enable.ssl.certificate.verification and
//	                  ssl.endpoint.identification.algorithm=https (none
//	                  with InsecureSkipVerify)
//	SASLData          sasl.mechanisms, sasl.username, sasl.password
//
// librdkafka marks sasl.password and ssl.key.pem as sensitive and never
// logs them. RdkafkaConfig is applied after these and may override them.
//
// librdkafka reports failed authentication as error events, not as errors
// of a call, and keeps retrying. The engine keeps the last such failure
// (authWatch) and attaches it to what the user waits on: delivery reports
// that fail (the message times out) and Poll.

// security sets the properties of sec.
func (p *props) security(sec engine.Security) error {
	if sec.OpaqueTLS {
		return kerr.Config("WithTLS", "librdkafka cannot use a Go *tls.Config: give the client WithTLSConfig (PEM data), which both engines use")
	}
	switch {
	case sec.TLS != nil && sec.SASL != nil:
		p.set("security.protocol", "WithTLSConfig and WithSASL", "sasl_ssl")
	case sec.TLS != nil:
		p.set("security.protocol", "WithTLSConfig", "ssl")
	case sec.SASL != nil:
		p.set("security.protocol", "WithSASL", "sasl_plaintext")
	default:
		return nil
	}
	if t := sec.TLS; t != nil {
		if t.ServerName != "" {
			return kerr.Config("TLSConfig.ServerName", "librdkafka checks each broker's own host name and cannot be told to expect %q; leave ServerName empty with UseRdkafka", t.ServerName)
		}
		if len(t.CAPEM) > 0 {
			p.set("ssl.ca.pem", "TLSConfig.CAPEM", string(t.CAPEM))
		}
		if len(t.CertPEM) > 0 {
			p.set("ssl.certificate.pem", "TLSConfig.CertPEM", string(t.CertPEM))
			p.set("ssl.key.pem", "TLSConfig.KeyPEM", string(t.KeyPEM))
		}
		verify, identify := "true", "https"
		if t.InsecureSkipVerify {
			verify, identify = "false", "none"
		}
		p.set("enable.ssl.certificate.verification", "TLSConfig.InsecureSkipVerify", verify)
		p.set("ssl.endpoint.identification.algorithm", "TLSConfig.InsecureSkipVerify", identify)
	}
	if s := sec.SASL; s != nil {
		p.set("sasl.mechanisms", "SASLConfig.Mechanism", s.Mechanism)
		p.set("sasl.username", "SASLConfig.Username", s.Username)
		p.set("sasl.password", "SASLConfig.Password", s.Password)
	}
	return nil
}

// authError is the gokafka error of a librdkafka error event that says
// authentication failed, or nil for any other event. SASL failures match
// kerr.ErrAuthentication and, when the broker refused the credentials,
// kerr.SaslAuthenticationFailed; TLS handshake failures (an untrusted
// certificate on either side) match kerr.ErrAuthentication and
// kerr.ErrConnection, as the pure engine's do.
func authError(e kafka.Error) error {
	switch e.Code() {
	case kafka.ErrAuthentication:
		err := error(&rdError{target: kerr.ErrAuthentication, rd: e})
		if strings.Contains(e.Error(), "SASL authentication error") {
			err = fmt.Errorf("%w: %w", err, kerr.SaslAuthenticationFailed)
		}
		return err
	case kafka.ErrSsl:
		// The handshake failed: librdkafka refused the broker's
		// certificate, or the broker refused ours during a TLS 1.2
		// handshake.
		return fmt.Errorf("%w: %w", kerr.ErrAuthentication, mapError(e))
	case kafka.ErrTransport:
		// With TLS 1.3 the broker checks the client's certificate after
		// the client's side of the handshake is done; its refusal comes
		// as an alert on the first read, which librdkafka reports as a
		// transport error quoting OpenSSL: "... alert bad certificate:
		// SSL alert number 42".
		if m := sslAlert.FindStringSubmatch(e.Error()); m != nil && certificateAlerts[m[1]] {
			return fmt.Errorf("%w: the broker refused the TLS session: %w", kerr.ErrAuthentication, mapError(e))
		}
	}
	return nil
}

var sslAlert = regexp.MustCompile(`SSL alert number (\d+)`)

// certificateAlerts are the TLS alerts (RFC 8446 section 6) by which a
// peer refuses a certificate: bad_certificate, unsupported_certificate,
// certificate_revoked, certificate_expired, certificate_unknown,
// unknown_ca, access_denied and certificate_required.
var certificateAlerts = map[string]bool{
	"42": true, "43": true, "44": true, "45": true, "46": true, "48": true, "49": true, "116": true,
}

// authWatch remembers the last authentication failure librdkafka reported,
// until something shows authentication works again. Safe for concurrent
// use.
type authWatch struct {
	mu  sync.Mutex
	err error
}

// observe records e if it is an authentication failure and reports whether
// it was.
func (w *authWatch) observe(e kafka.Error) bool {
	err := authError(e)
	if err == nil {
		return false
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	return true
}

// ok forgets the failure: a broker answered.
func (w *authWatch) ok() {
	w.mu.Lock()
	w.err = nil
	w.mu.Unlock()
}

// explain adds the outstanding authentication failure, if any, to err (a
// message that timed out because no broker would let the client in).
func (w *authWatch) explain(err error) error {
	if err == nil || errors.Is(err, kerr.ErrAuthentication) {
		return err
	}
	w.mu.Lock()
	auth := w.err
	w.mu.Unlock()
	if auth == nil {
		return err
	}
	return fmt.Errorf("%w (librdkafka could not authenticate: %w)", err, auth)
}

// take returns the outstanding failure once (Poll reports it to the
// consumer, then goes on waiting; librdkafka keeps retrying).
func (w *authWatch) take() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.err
	w.err = nil
	return err
}
