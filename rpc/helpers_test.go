package rpc

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

// testSigner returns a signer called name and a ring trusting it with the
// given principals.
func testSigner(t *testing.T, name string, principals ...string) (*Signer, *KeyRing) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring := NewKeyRing()
	if err := ring.Add(name, pub, principals...); err != nil {
		t.Fatal(err)
	}
	return &Signer{Name: name, Key: priv}, ring
}

func testRequest() *Request {
	req := NewRequest("fleetfeed", "puppet", "runonce", map[string]any{"noop": true, "splaylimit": 10})
	req.SenderID = "cli-alice"
	req.CallerID = "user=alice"
	req.MsgTime = 1_800_000_000
	req.Filter = &Filter{Identity: []string{"web1.example.com"}}
	return req
}
