package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Iteration bounds accepted from a server. RFC 7677 asks for at least 4096
// (Kafka's minimum too); the upper bound stops a hostile server from making
// the client hash for minutes (Kafka allows at most 16384).
const (
	minIterations = 4096
	maxIterations = 1 << 20
)

// gs2Header is "no channel binding, no authorization identity": Kafka
// supports neither.
const gs2Header = "n,,"

// errScramProtocol marks a server message that breaks RFC 5802.
var errScramProtocol = errors.New("SCRAM protocol violation")

// scramSession is the client side of one SCRAM exchange (RFC 5802) with
// hash h: SHA-256 for SCRAM-SHA-256 (RFC 7677), SHA-512 for SCRAM-SHA-512.
type scramSession struct {
	h        func() hash.Hash
	user     string
	password string
	nonce    string // the client's part of the nonce

	step            int
	clientFirstBare string
	serverSignature []byte // expected in server-final
}

// newScram starts a session. nonce is the client nonce; empty picks 24
// random bytes (tests pass RFC vectors' nonces).
func newScram(h func() hash.Hash, user, password, nonce string) (*scramSession, error) {
	if nonce == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("SCRAM nonce: %w", err)
		}
		// base64url without padding: printable, and never a ','.
		nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return &scramSession{h: h, user: user, password: password, nonce: nonce}, nil
}

// saslName escapes a user name for SCRAM: '=' and ',' are the only special
// characters (RFC 5802 section 5.1).
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (s *scramSession) start() ([]byte, error) {
	s.clientFirstBare = "n=" + saslName(s.user) + ",r=" + s.nonce
	s.step = 1
	return []byte(gs2Header + s.clientFirstBare), nil
}

func (s *scramSession) next(challenge []byte) ([]byte, bool, error) {
	switch s.step {
	case 1:
		s.step = 2
		msg, err := s.clientFinal(string(challenge))
		return msg, false, err
	case 2:
		s.step = 3
		return nil, true, s.verifyServerFinal(string(challenge))
	}
	return nil, false, fmt.Errorf("%w: unexpected message after the exchange ended", errScramProtocol)
}

// serverFirst is the parsed server-first-message.
type serverFirst struct {
	nonce      string
	salt       []byte
	iterations int
}

// parseServerFirst reads "r=<nonce>,s=<salt>,i=<count>[,extensions]".
func (s *scramSession) parseServerFirst(msg string) (serverFirst, error) {
	var sf serverFirst
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 {
		if strings.HasPrefix(msg, "e=") {
			return sf, fmt.Errorf("server refused: %s", strings.TrimPrefix(msg, "e="))
		}
		return sf, fmt.Errorf("%w: server-first-message has %d attributes, want r, s and i", errScramProtocol, len(attrs))
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return sf, fmt.Errorf("%w: server requires an extension this client does not know", errScramProtocol)
	}
	r, ok1 := strings.CutPrefix(attrs[0], "r=")
	salt, ok2 := strings.CutPrefix(attrs[1], "s=")
	iter, ok3 := strings.CutPrefix(attrs[2], "i=")
	if !ok1 || !ok2 || !ok3 {
		return sf, fmt.Errorf("%w: server-first-message does not start with r=, s=, i=", errScramProtocol)
	}
	// The server extends our nonce; anything else is a replay or a
	// man in the middle.
	if !strings.HasPrefix(r, s.nonce) || len(r) == len(s.nonce) {
		return sf, fmt.Errorf("%w: server nonce does not extend the client nonce", errScramProtocol)
	}
	sf.nonce = r
	var err error
	if sf.salt, err = base64.StdEncoding.DecodeString(salt); err != nil || len(sf.salt) == 0 {
		return sf, fmt.Errorf("%w: bad salt", errScramProtocol)
	}
	if sf.iterations, err = strconv.Atoi(iter); err != nil {
		return sf, fmt.Errorf("%w: bad iteration count", errScramProtocol)
	}
	if sf.iterations < minIterations || sf.iterations > maxIterations {
		return sf, fmt.Errorf("%w: iteration count %d outside [%d, %d]", errScramProtocol, sf.iterations, minIterations, maxIterations)
	}
	return sf, nil
}

// clientFinal computes client-final-message from server-first-message, and
// remembers the server signature to expect.
func (s *scramSession) clientFinal(serverFirstMsg string) ([]byte, error) {
	sf, err := s.parseServerFirst(serverFirstMsg)
	if err != nil {
		return nil, err
	}
	size := s.h().Size()
	salted, err := pbkdf2.Key(s.h, s.password, sf.salt, sf.iterations, size)
	if err != nil {
		return nil, fmt.Errorf("SCRAM key derivation: %w", err)
	}
	defer clear(salted)
	clientKey := s.mac(salted, "Client Key")
	defer clear(clientKey)
	h := s.h()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	defer clear(storedKey)

	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + sf.nonce
	authMessage := s.clientFirstBare + "," + serverFirstMsg + "," + withoutProof

	proof := s.mac(storedKey, authMessage) // ClientSignature, then XORed in place
	defer clear(proof)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	serverKey := s.mac(salted, "Server Key")
	defer clear(serverKey)
	s.serverSignature = s.mac(serverKey, authMessage)

	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verifyServerFinal checks "v=<ServerSignature>", or reports "e=<error>".
func (s *scramSession) verifyServerFinal(msg string) error {
	if e, ok := strings.CutPrefix(msg, "e="); ok {
		return fmt.Errorf("server refused: %s", e)
	}
	v, ok := strings.CutPrefix(msg, "v=")
	if !ok {
		return fmt.Errorf("%w: server-final-message has no verifier", errScramProtocol)
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i] // extensions may follow
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !hmac.Equal(got, s.serverSignature) {
		return fmt.Errorf("%w: the server's signature is wrong: it does not hold this user's credential", errScramProtocol)
	}
	return nil
}

func (s *scramSession) mac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
