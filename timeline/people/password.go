package people

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"fleetfeed/feed"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB, Time in passes, Threads in lanes.
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultParams follow OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Password length bounds, in characters; the upper one keeps a request
// from making the server hash megabytes.
const (
	MinPassword = 8
	MaxPassword = 256
)

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns the argon2id PHC string of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>. It returns EINVALID for a
// password shorter than MinPassword or longer than MaxPassword.
func HashPassword(password string, p Params) (string, error) {
	n := utf8.RuneCountInString(password)
	if n < MinPassword {
		return "", feed.Errorf(feed.EINVALID, "a password needs at least %d characters", MinPassword)
	}
	if n > MaxPassword {
		return "", feed.Errorf(feed.EINVALID, "a password has at most %d characters", MaxPassword)
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the PHC string hash, in
// time that does not depend on where they differ.
func CheckPassword(hash, password string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func parseHash(hash string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("argon2id parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("argon2id salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return p, nil, nil, errors.New("argon2id hash: bad key")
	}
	return p, salt, key, nil
}

// errBadLogin is the one answer to a failed sign-in: it does not say
// whether the name exists.
var errBadLogin = feed.Errorf(feed.EUNAUTHORIZED, "wrong user name or password")

// Authenticate returns the user whose name and password these are, or an
// EUNAUTHORIZED error that does not say which was wrong. An unknown name
// costs the same argon2id work as a known one, so timing does not tell
// which names exist. Rate limiting is the caller's (see Limiter).
func (s *Store) Authenticate(ctx context.Context, name, password string) (*User, error) {
	var (
		id   int64
		hash string
	)
	err := s.DB.SQL().QueryRowContext(ctx, `SELECT id, password FROM users WHERE name = ?`, strings.TrimSpace(name)).Scan(&id, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		CheckPassword(s.dummyHash(), password)
		return nil, errBadLogin
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if utf8.RuneCountInString(password) > MaxPassword {
		CheckPassword(s.dummyHash(), "")
		return nil, errBadLogin
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return nil, fmt.Errorf("authenticate user %d: %w", id, err)
	}
	if !ok {
		return nil, errBadLogin
	}
	return s.Get(ctx, id)
}

var dummy struct {
	sync.Mutex
	hashes map[Params]string
}

// dummyHash is a hash with the store's parameters that no password is
// checked against in earnest.
func (s *Store) dummyHash() string {
	p := s.params()
	dummy.Lock()
	defer dummy.Unlock()
	if h, ok := dummy.hashes[p]; ok {
		return h
	}
	if dummy.hashes == nil {
		dummy.hashes = map[Params]string{}
	}
	b := make([]byte, 24)
	rand.Read(b)
	h, _ := HashPassword(base64.RawStdEncoding.EncodeToString(b), p)
	dummy.hashes[p] = h
	return h
}

// Secret returns the server's key called name, 32 random bytes made and
// stored on first use.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	b := make([]byte, 32)
	rand.Read(b)
	if _, err := s.DB.SQL().ExecContext(ctx, `INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)`, name, b); err != nil {
		return nil, fmt.Errorf("make secret %s: %w", name, err)
	}
	var v []byte
	if err := s.DB.SQL().QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	return v, nil
}
