package sasl

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Mechanism is a SASL mechanism name as Kafka spells it.
type Mechanism string

// The mechanisms this package speaks.
const (
	Plain       Mechanism = "PLAIN"
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
)

// API keys of the two requests of the exchange.
const (
	keySaslHandshake    = 17
	keySaslAuthenticate = 36
)

// Authenticator authenticates connections as one user with one mechanism. It
// implements wire.Authenticator. It holds no per-connection state (each
// Authenticate call runs its own exchange), so one Authenticator serves every
// connection of a client concurrently.
type Authenticator struct {
	mech     Mechanism
	user     string
	password string
}

var _ wire.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator, or a *kerr.ConfigError naming the invalid
// field of the public SASLConfig (Mechanism, Username, Password). The error
// never contains the password.
func New(mech Mechanism, user, password string) (*Authenticator, error) {
	switch mech {
	case Plain, ScramSHA256, ScramSHA512:
	case "":
		return nil, kerr.Config("SASLConfig.Mechanism", "no mechanism given (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
	default:
		return nil, kerr.Config("SASLConfig.Mechanism", "%q is not supported (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", string(mech))
	}
	if err := checkCredential("SASLConfig.Username", user, mech); err != nil {
		return nil, err
	}
	if err := checkCredential("SASLConfig.Password", password, mech); err != nil {
		return nil, err
	}
	return &Authenticator{mech: mech, user: user, password: password}, nil
}

// checkCredential is the rule for a user name and a password alike:
// non-empty UTF-8, and no NUL byte with PLAIN, which separates its fields
// with NUL bytes. The error names field and never holds the value.
func checkCredential(field, v string, mech Mechanism) error {
	switch {
	case v == "":
		return kerr.Config(field, "empty")
	case !utf8.ValidString(v):
		return kerr.Config(field, "not valid UTF-8")
	case mech == Plain && strings.IndexByte(v, 0) >= 0:
		return kerr.Config(field, "contains a NUL byte, which PLAIN cannot carry")
	}
	return nil
}

// Mechanism returns the mechanism.
func (a *Authenticator) Mechanism() Mechanism { return a.mech }

// User returns the user name.
func (a *Authenticator) User() string { return a.user }

// String shows the mechanism and the user, never the password.
func (a *Authenticator) String() string {
	return fmt.Sprintf("sasl.Authenticator{Mechanism: %s, User: %q, Password: [redacted]}", a.mech, a.user)
}

// GoString is String, so that %#v does not print the password either.
func (a *Authenticator) GoString() string { return a.String() }

// Format prints String for every verb, so that no fmt verb (%d, %x, ...)
// walks the fields and prints the password.
func (a *Authenticator) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// session is one SASL exchange, from the client's side.
type session interface {
	// start returns the client's first message.
	start() ([]byte, error)
	// next takes the server's answer to the last message and returns the
	// next message to send, or done when the exchange succeeded.
	next(challenge []byte) (msg []byte, done bool, err error)
}

func (a *Authenticator) session() (session, error) {
	switch a.mech {
	case Plain:
		return &plainSession{user: a.user, password: a.password}, nil
	case ScramSHA256:
		return newScram(sha256.New, a.user, a.password, "")
	case ScramSHA512:
		return newScram(sha512.New, a.user, a.password, "")
	}
	return nil, fmt.Errorf("unknown mechanism %q", string(a.mech))
}

// Authenticate runs the SASL exchange on c: SaslHandshake v1, then
// SaslAuthenticate requests until the mechanism is done. ctx bounds it
// (wire.Dial passes its handshake context, bounded by DialTimeout).
//
// A rejection by the broker, an unsupported mechanism or a server that
// fails to prove itself returns an error wrapping kerr.ErrAuthentication
// (and the broker's error code, when there is one). A transport failure
// returns the wire error (kerr.ErrConnection, kerr.ErrRequestTimeout or the
// context's error) with context added, so that callers retry it as any
// other connection failure.
func (a *Authenticator) Authenticate(ctx context.Context, c *wire.Conn) error {
	addr := c.Addr()
	if v, ok := c.Versions().Max(keySaslHandshake); !ok || v < 1 {
		return a.rejected(addr, fmt.Errorf("%w: the broker does not speak SaslHandshake v1 (Kafka 1.0 and later do); is this a SASL listener?", kerr.ErrUnsupportedVersion))
	}
	if _, ok := c.Versions().Max(keySaslAuthenticate); !ok {
		return a.rejected(addr, fmt.Errorf("%w: the broker does not speak SaslAuthenticate", kerr.ErrUnsupportedVersion))
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = string(a.mech)
	r, err := c.Request(ctx, hs)
	if err != nil {
		return a.transport(addr, "SaslHandshake", err)
	}
	hr := r.(*kmsg.SASLHandshakeResponse)
	if hr.ErrorCode != 0 {
		err := kerr.ForCode(hr.ErrorCode)
		if errors.Is(err, kerr.UnsupportedSaslMechanism) {
			return a.rejected(addr, fmt.Errorf("%w; the listener enables %s", err, strings.Join(hr.SupportedMechanisms, ", ")))
		}
		return a.rejected(addr, fmt.Errorf("SaslHandshake: %w", err))
	}

	s, err := a.session()
	if err != nil {
		return a.rejected(addr, err)
	}
	msg, err := s.start()
	if err != nil {
		return a.rejected(addr, err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SASLAuthBytes = msg
		r, err := c.Request(ctx, req)
		if err != nil {
			return a.transport(addr, "SaslAuthenticate", err)
		}
		ar := r.(*kmsg.SASLAuthenticateResponse)
		if ar.ErrorCode != 0 {
			return a.rejected(addr, kerr.WithMessage(ar.ErrorCode, a.redact(ar.ErrorMessage)))
		}
		var done bool
		msg, done, err = s.next(ar.SASLAuthBytes)
		if err != nil {
			return a.rejected(addr, err)
		}
		if done {
			return nil
		}
	}
}

// rejected is an authentication verdict: the broker refused, or the
// exchange cannot go on.
func (a *Authenticator) rejected(addr string, err error) error {
	return fmt.Errorf("%w: SASL %s as %q with %s: %w", kerr.ErrAuthentication, a.mech, a.user, addr, err)
}

// transport is a failure to talk to the broker during the exchange; it is
// not a verdict on the credentials.
func (a *Authenticator) transport(addr, step string, err error) error {
	return fmt.Errorf("SASL %s as %q with %s: %s: %w", a.mech, a.user, addr, step, err)
}

// redact removes the password from a broker's error message. Brokers do not
// echo credentials, but the message ends up in errors and logs, so it is not
// trusted to.
func (a *Authenticator) redact(msg *string) *string {
	if msg == nil || a.password == "" || !strings.Contains(*msg, a.password) {
		return msg
	}
	s := strings.ReplaceAll(*msg, a.password, "[redacted]")
	return &s
}

// plainSession is RFC 4616: one message, authzid NUL authcid NUL passwd.
// The authorization id is left empty: Kafka takes the authenticated user.
type plainSession struct {
	user, password string
}

func (p *plainSession) start() ([]byte, error) {
	msg := make([]byte, 0, 2+len(p.user)+len(p.password))
	msg = append(msg, 0)
	msg = append(msg, p.user...)
	msg = append(msg, 0)
	msg = append(msg, p.password...)
	return msg, nil
}

func (p *plainSession) next([]byte) ([]byte, bool, error) {
	// The broker answers an accepted PLAIN message with an empty
	// challenge; a rejection arrives as an error code instead.
	return nil, true, nil
}
