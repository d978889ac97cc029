package rpc

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Key files hold one ed25519 key, either as PEM ("PRIVATE KEY": PKCS #8;
// "PUBLIC KEY": PKIX, as openssl genpkey -algorithm ed25519 writes them) or
// as one line of standard base64: the 32-byte seed or 64-byte private key;
// the 32-byte public key or its PKIX DER form.

// GenerateKeyFiles makes a new key pair and writes it to dir as name.key
// (PEM, mode 0600) and name.pub (PEM, mode 0644). It refuses to overwrite
// either file.
func GenerateKeyFiles(dir, name string) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	if err := CheckName(name); err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	pubPEM, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if err := writeNew(filepath.Join(dir, name+".key"), privPEM, 0o600); err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if err := writeNew(filepath.Join(dir, name+".pub"), pubPEM, 0o644); err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	return pub, priv, nil
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// MarshalPrivateKey returns key as a PKCS #8 PEM block.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey returns key as a PKIX PEM block.
func MarshalPublicKey(key ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// EncodePublicKey returns key as standard base64, the form used in
// configuration files and registration messages.
func EncodePublicKey(key ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(key)
}

// LoadPrivateKey reads a private key file (PEM or base64).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return key, nil
}

// ParsePrivateKey parses a private key in PEM or base64 form.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q, want PRIVATE KEY", block.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, want ed25519", k)
		}
		return priv, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, errors.New("private key is neither PEM nor base64")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.PrivateKey(raw)
		if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
			return nil, errors.New("private key: public half does not match seed")
		}
		return priv, nil
	}
	return nil, fmt.Errorf("private key has %d bytes, want %d or %d", len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// LoadPublicKey reads a public key file (PEM or base64).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	key, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return key, nil
}

// ParsePublicKey parses a public key in PEM or base64 form.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q, want PUBLIC KEY", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want ed25519", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, errors.New("public key is neither PEM nor base64")
	}
	if len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	// The base64 of a PKIX DER key, as "openssl pkey -pubout -outform DER" writes it.
	if k, err := x509.ParsePKIXPublicKey(raw); err == nil {
		if pub, ok := k.(ed25519.PublicKey); ok {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("public key has %d bytes, want %d", len(raw), ed25519.PublicKeySize)
}

// KeyRing holds the public keys a node or client trusts, by name, and the
// principals (callerids for requests, senderids or identities for replies
// and registrations) each key may speak for. It is safe for concurrent
// use.
type KeyRing struct {
	mu   sync.RWMutex
	keys map[string]trustedKey
}

type trustedKey struct {
	pub        ed25519.PublicKey
	principals []string
}

// NewKeyRing returns an empty key ring.
func NewKeyRing() *KeyRing { return &KeyRing{keys: map[string]trustedKey{}} }

// Add trusts pub under name, replacing any key of that name. principals
// are the callerids (or senderids) the key may sign for: literal names,
// /regex/ or "*" for any (a server that signs for its logged-in users).
// With none, the key speaks only for "user=<name>" and "<name>".
func (r *KeyRing) Add(name string, pub ed25519.PublicKey, principals ...string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("add key: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("add key %q: %d bytes, want %d", name, len(pub), ed25519.PublicKeySize)
	}
	for _, p := range principals {
		if _, err := compilePattern(p); err != nil {
			return fmt.Errorf("add key %q: principal: %w", name, err)
		}
	}
	if len(principals) == 0 {
		principals = []string{"user=" + name, name}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]trustedKey{}
	}
	r.keys[name] = trustedKey{pub: slices.Clone(pub), principals: slices.Clone(principals)}
	return nil
}

// AddDir trusts every name.pub file in dir under its name, with the
// default principals.
func (r *KeyRing) AddDir(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return fmt.Errorf("add key dir: %w", err)
	}
	for _, p := range paths {
		pub, err := LoadPublicKey(p)
		if err != nil {
			return fmt.Errorf("add key dir: %w", err)
		}
		if err := r.Add(strings.TrimSuffix(filepath.Base(p), ".pub"), pub); err != nil {
			return fmt.Errorf("add key dir: %w", err)
		}
	}
	return nil
}

// Lookup returns the key trusted under name.
func (r *KeyRing) Lookup(name string) (ed25519.PublicKey, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.keys[name]
	return k.pub, ok
}

// Allows reports whether the key called name may speak for principal.
func (r *KeyRing) Allows(name, principal string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	k, ok := r.keys[name]
	r.mu.RUnlock()
	if !ok {
		return false
	}
	for _, p := range k.principals {
		if matchPattern(p, principal, false) {
			return true
		}
	}
	return false
}

// Names returns the names of the trusted keys, sorted.
func (r *KeyRing) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.keys))
	for n := range r.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
