package people

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// CSRFSecret is a session's secret for CSRF tokens.
type CSRFSecret []byte

const csrfNonce = 16

// Token returns a CSRF token for a form or request of the session: a
// random nonce and the HMAC-SHA256 of it under the secret, base64url.
// Each call gives a different token (so a compressed page does not leak
// it, as BREACH would read it), and every one verifies.
func (s CSRFSecret) Token() string {
	b := make([]byte, csrfNonce, csrfNonce+sha256.Size)
	rand.Read(b)
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Verify reports whether token was made by Token with this secret, in
// constant time.
func (s CSRFSecret) Verify(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if len(s) == 0 || err != nil || len(b) != csrfNonce+sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(b[csrfNonce:], s.mac(b[:csrfNonce])) == 1
}

func (s CSRFSecret) mac(nonce []byte) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte("fleetfeed csrf\x00"))
	m.Write(nonce)
	return m.Sum(nil)
}
