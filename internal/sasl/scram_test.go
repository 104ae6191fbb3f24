package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"testing"
)

// The exchanges of RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3
// (SCRAM-SHA-256): user "user", password "pencil".
var rfcVectors = []struct {
	name        string
	h           func() hash.Hash
	nonce       string
	clientFirst string
	serverFirst string
	clientFinal string
	serverFinal string
}{
	{
		name:        "RFC5802/SHA-1",
		h:           sha1.New,
		nonce:       "fyko+d2lbbFgONRv9qkxdawL",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		name:        "RFC7677/SHA-256",
		h:           sha256.New,
		nonce:       "rOprNGfwEbeRWgbNEkqO",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

func TestScramRFCVectors(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			s, err := newScram(v.h, "user", "pencil", v.nonce)
			if err != nil {
				t.Fatal(err)
			}
			first, err := s.start()
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != v.clientFirst {
				t.Fatalf("client-first:\n got %s\nwant %s", first, v.clientFirst)
			}
			final, done, err := s.next([]byte(v.serverFirst))
			if err != nil || done {
				t.Fatalf("after server-first: done=%v err=%v", done, err)
			}
			if string(final) != v.clientFinal {
				t.Fatalf("client-final:\n got %s\nwant %s", final, v.clientFinal)
			}
			if _, done, err := s.next([]byte(v.serverFinal)); err != nil || !done {
				t.Fatalf("server-final: done=%v err=%v", done, err)
			}
		})
	}
}

// Tampering with the RFC exchange must fail at the step that sees it.
func TestScramRFCTampered(t *testing.T) {
	v := rfcVectors[1]
	run := func(serverFirst, serverFinal string) error {
		s, _ := newScram(v.h, "user", "pencil", v.nonce)
		s.start()
		if _, _, err := s.next([]byte(serverFirst)); err != nil {
			return err
		}
		_, _, err := s.next([]byte(serverFinal))
		return err
	}
	// A different salt changes every key: the RFC's server signature no
	// longer matches.
	if err := run(strings.Replace(v.serverFirst, "s=W22Z", "s=X22Z", 1), v.serverFinal); err == nil {
		t.Fatal("a tampered salt went unnoticed")
	}
	sig := strings.TrimPrefix(v.serverFinal, "v=")
	bad := "v=A" + sig[1:]
	if err := run(v.serverFirst, bad); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("a wrong server signature: %v", err)
	}
	if err := run(v.serverFirst, "e=invalid-proof"); err == nil || !strings.Contains(err.Error(), "invalid-proof") {
		t.Fatalf("server-final error: %v", err)
	}
}

// fakeServer is the server side of SCRAM, written from the RFC's
// verification steps (it recovers ClientKey from the proof and checks its
// hash against StoredKey), which is a different path from the client's
// computation. It stores what a server stores: StoredKey and ServerKey.
type fakeServer struct {
	h          func() hash.Hash
	salt       []byte
	iterations int
	storedKey  []byte
	serverKey  []byte

	clientFirstBare string
	serverFirst     string
	nonce           string
}

func newFakeServer(t *testing.T, h func() hash.Hash, password string, iterations int) *fakeServer {
	salt := []byte("0123456789abcdef")
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	hh := h()
	hh.Write(mac(salted, "Client Key"))
	return &fakeServer{h: h, salt: salt, iterations: iterations, storedKey: hh.Sum(nil), serverKey: mac(salted, "Server Key")}
}

func (f *fakeServer) first(clientFirst string) string {
	f.clientFirstBare = strings.TrimPrefix(clientFirst, gs2Header)
	cnonce := f.clientFirstBare[strings.Index(f.clientFirstBare, ",r=")+3:]
	f.nonce = cnonce + "server-part"
	f.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", f.nonce, base64.StdEncoding.EncodeToString(f.salt), f.iterations)
	return f.serverFirst
}

func (f *fakeServer) final(clientFinal string) string {
	i := strings.LastIndex(clientFinal, ",p=")
	withoutProof, proofB64 := clientFinal[:i], clientFinal[i+3:]
	if withoutProof != "c=biws,r="+f.nonce {
		return "e=channel-bindings-dont-match"
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return "e=invalid-encoding"
	}
	auth := f.clientFirstBare + "," + f.serverFirst + "," + withoutProof
	m := hmac.New(f.h, f.storedKey)
	m.Write([]byte(auth))
	clientKey := m.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= proof[i%len(proof)]
	}
	hh := f.h()
	hh.Write(clientKey)
	if !hmac.Equal(hh.Sum(nil), f.storedKey) {
		return "e=invalid-proof"
	}
	m = hmac.New(f.h, f.serverKey)
	m.Write([]byte(auth))
	return "v=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// exchange runs a full client session against the fake server.
func exchange(t *testing.T, h func() hash.Hash, user, clientPassword string, srv *fakeServer) error {
	t.Helper()
	s, err := newScram(h, user, clientPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.start()
	final, _, err := s.next([]byte(srv.first(string(first))))
	if err != nil {
		return err
	}
	_, done, err := s.next([]byte(srv.final(string(final))))
	if err == nil && !done {
		t.Fatal("exchange not done after server-final")
	}
	return err
}

func TestScramAgainstFakeServer(t *testing.T) {
	for _, c := range []struct {
		name string
		h    func() hash.Hash
	}{{"SHA-256", sha256.New}, {"SHA-512", sha512.New}} {
		t.Run(c.name, func(t *testing.T) {
			srv := newFakeServer(t, c.h, "s3cret-Pässword", 4096)
			if err := exchange(t, c.h, "alice", "s3cret-Pässword", srv); err != nil {
				t.Fatalf("right password: %v", err)
			}
			srv = newFakeServer(t, c.h, "s3cret-Pässword", 4096)
			err := exchange(t, c.h, "alice", "wrong-password", srv)
			if err == nil || !strings.Contains(err.Error(), "invalid-proof") {
				t.Fatalf("wrong password: want the server's invalid-proof, got %v", err)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestScramServerFirstChecks(t *testing.T) {
	const nonce = "clientnonce"
	salt := base64.StdEncoding.EncodeToString([]byte("salt"))
	for _, c := range []struct {
		name, msg, want string
	}{
		{"nonce not extended", "r=othernonceXYZ,s=" + salt + ",i=4096", "nonce"},
		{"nonce not longer", "r=clientnonce,s=" + salt + ",i=4096", "nonce"},
		{"too few iterations", "r=clientnonceXYZ,s=" + salt + ",i=1000", "iteration count 1000"},
		{"too many iterations", "r=clientnonceXYZ,s=" + salt + ",i=100000000", "iteration count"},
		{"bad iterations", "r=clientnonceXYZ,s=" + salt + ",i=many", "iteration"},
		{"bad salt", "r=clientnonceXYZ,s=!!!,i=4096", "salt"},
		{"mandatory extension", "m=ext,r=clientnonceXYZ,s=" + salt + ",i=4096", "extension"},
		{"missing attributes", "r=clientnonceXYZ", "attributes"},
		{"wrong order", "s=" + salt + ",r=clientnonceXYZ,i=4096", "r=, s=, i="},
		{"server error", "e=unknown-user", "unknown-user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newScram(sha256.New, "user", "pencil", nonce)
			s.start()
			_, _, err := s.next([]byte(c.msg))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error about %q, got %v", c.want, err)
			}
		})
	}
}

func TestScramAfterEnd(t *testing.T) {
	v := rfcVectors[1]
	s, _ := newScram(v.h, "user", "pencil", v.nonce)
	s.start()
	s.next([]byte(v.serverFirst))
	s.next([]byte(v.serverFinal))
	if _, _, err := s.next([]byte("v=more")); err == nil {
		t.Fatal("a message after the end was accepted")
	}
}

func TestSaslName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":   "alice",
		"a=b":     "a=3Db",
		"a,b":     "a=2Cb",
		"=,=":     "=3D=2C=3D",
		"ünïcødé": "ünïcødé",
	} {
		if got := saslName(in); got != want {
			t.Errorf("saslName(%q) = %q, want %q", in, got, want)
		}
	}
	s, _ := newScram(sha256.New, "a,b=c", "pw", "n")
	first, _ := s.start()
	if string(first) != "n,,n=a=2Cb=3Dc,r=n" {
		t.Fatalf("client-first with an escaped name: %s", first)
	}
}

func TestScramRandomNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := newScram(sha256.New, "u", "p", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.nonce) < 24 || strings.ContainsAny(s.nonce, ",=") || seen[s.nonce] {
			t.Fatalf("bad or repeated nonce %q", s.nonce)
		}
		seen[s.nonce] = true
	}
}
