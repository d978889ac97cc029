package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
)

// Payload is one request body as a tool sends it, ready for
// POST /api/v1/ingest/{Source}.
type Payload struct {
	// Source is the ingest source, one of the translators.Source* names.
	Source string
	// ContentType is the Content-Type header the tool sends.
	ContentType string
	// Body is the raw body.
	Body []byte
	// Node names the server the payload is about, for logs only.
	Node string
}

// The content types the tools send.
const (
	ContentYAML   = "application/x-yaml"
	ContentForm   = "application/x-www-form-urlencoded"
	ContentNDJSON = "application/x-ndjson"
)

// newUUID returns a random (version 4) UUID drawn from r.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// jitter returns a duration between lo and hi drawn from r.
func jitter(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// puppetClassName writes a class name as Puppet does in containment paths
// and log sources: "profile::base::ssh" becomes "Profile::Base::Ssh".
func puppetClassName(c string) string {
	parts := strings.Split(c, "::")
	for i, p := range parts {
		if p == "" {
			continue
		}
		rs := []rune(p)
		rs[0] = unicode.ToUpper(rs[0])
		parts[i] = string(rs)
	}
	return strings.Join(parts, "::")
}
