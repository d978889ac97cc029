package rpc

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateAndLoadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := GenerateKeyFiles(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	gotPriv, err := LoadPrivateKey(filepath.Join(dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotPriv, priv) {
		t.Fatal("private key differs after load")
	}
	gotPub, err := LoadPublicKey(filepath.Join(dir, "alice.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotPub, pub) {
		t.Fatal("public key differs after load")
	}
	st, err := os.Stat(filepath.Join(dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Fatalf("key file mode = %v, want %v", got, want)
	}
	if _, _, err := GenerateKeyFiles(dir, "alice"); err == nil {
		t.Fatal("GenerateKeyFiles overwrote a key")
	}
}

func TestParseKeysBase64(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
	}{
		{"seed", base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"},
		{"full", base64.StdEncoding.EncodeToString(priv)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKey([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, priv) {
				t.Fatal("key differs")
			}
		})
	}
	got, err := ParsePublicKey([]byte(EncodePublicKey(pub)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pub) {
		t.Fatal("public key differs")
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParsePrivateKey([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKey(%q) succeeded", bad)
		}
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", bad)
		}
	}
	// A 64-byte key whose public half does not belong to its seed.
	mixed := append(append([]byte{}, priv.Seed()...), make([]byte, 32)...)
	if _, err := ParsePrivateKey([]byte(base64.StdEncoding.EncodeToString(mixed))); err == nil {
		t.Error("ParsePrivateKey accepted a mismatched key")
	}
}

func TestKeyRing(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := GenerateKeyFiles(dir, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := GenerateKeyFiles(dir, "bob"); err != nil {
		t.Fatal(err)
	}
	ring := NewKeyRing()
	if err := ring.AddDir(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := len(ring.Names()), 2; got != want {
		t.Fatalf("names = %v, want %d", ring.Names(), want)
	}
	server, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Add("server", server, "*"); err != nil {
		t.Fatal(err)
	}
	sim, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Add("sim", sim, `/\.sim\.example\.net$/`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, principal string
		want           bool
	}{
		{"alice", "user=alice", true},
		{"alice", "alice", true},
		{"alice", "user=bob", false},
		{"alice", "user=Alice", false},
		{"server", "user=anyone", true},
		{"sim", "web0001.sim.example.net", true},
		{"sim", "web1.example.com", false},
		{"nobody", "user=nobody", false},
	} {
		if got := ring.Allows(tc.key, tc.principal); got != tc.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tc.key, tc.principal, got, tc.want)
		}
	}
	if err := ring.Add("bad", server, "/(/"); err == nil {
		t.Error("Add accepted a bad principal pattern")
	}
	if err := ring.Add("short", server[:10]); err == nil {
		t.Error("Add accepted a short key")
	}
}
