// Package sasl authenticates gokafka's broker connections with SASL: PLAIN
// (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677). An
// *Authenticator plugs into wire.Options.SASL; wire.Dial calls it once per
// connection, after API version negotiation and before any other request.
//
// # The exchange on the wire (KIP-43, KIP-152)
//
// A Kafka SASL listener accepts ApiVersions before authentication, so
// versions are known when Authenticate starts. Then:
//
//  1. SaslHandshake v1 names the mechanism. The broker answers with its
//     enabled mechanisms, or UNSUPPORTED_SASL_MECHANISM.
//  2. Each SASL message travels in a SaslAuthenticate request (v0..v2), and
//     each server challenge comes back in its response. PLAIN takes one
//     round; SCRAM takes two (client-first / server-first, then
//     client-final / server-final).
//  3. A wrong credential ends with SASL_AUTHENTICATION_FAILED in a
//     SaslAuthenticate response; the broker then closes the connection.
//
// SaslHandshake v0, where raw SASL tokens followed the handshake without
// Kafka framing, predates Kafka 1.0 and is not spoken.
//
// # SCRAM in brief
//
// The password never crosses the wire. Both sides derive
// SaltedPassword = PBKDF2(HMAC-H, password, salt, iterations); the client
// proves knowledge of it with ClientKey XOR HMAC(H(ClientKey), AuthMessage),
// where AuthMessage binds both nonces, the salt and the iteration count, and
// the server proves it holds the same stored credential by returning
// HMAC(ServerKey, AuthMessage), which the client checks. A server that cannot
// produce that signature is refused even if it said "success".
//
// # Errors and secrets
//
// Every failure wraps kerr.ErrAuthentication; broker error codes are wrapped
// too (kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism), so
// errors.Is works with either. Errors name the mechanism, the user and the
// broker, never a secret: not the password, the salted password, the keys
// or the client proof. The package does not log. Authenticator's String and
// fmt output show the mechanism and user only.
//
// # Not done
//
// SASLprep (RFC 4013) normalisation of user names and passwords is not
// applied, as Kafka's own Java client and broker do not apply it either: the
// UTF-8 bytes are used as given. KIP-368 re-authentication is not done: if a
// broker sets connections.max.reauth.ms, it closes the connection when the
// session expires and the cluster layer dials a new one.
package sasl
