package rpc

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Signer signs messages with one ed25519 key, under the name receivers
// know that key by in their KeyRing.
type Signer struct {
	Name string
	Key  ed25519.PrivateKey
}

// SignRequest sets req's pubkey and signature and returns the wire body.
func (s *Signer) SignRequest(req *Request) ([]byte, error) {
	return s.sign(req, &req.PubKey, &req.Signature)
}

// SignReply sets rep's pubkey and signature and returns the wire body.
func (s *Signer) SignReply(rep *Reply) ([]byte, error) {
	return s.sign(rep, &rep.PubKey, &rep.Signature)
}

// SignRegistration sets reg's pubkey and signature and returns the wire
// body.
func (s *Signer) SignRegistration(reg *Registration) ([]byte, error) {
	return s.sign(reg, &reg.PubKey, &reg.Signature)
}

func (s *Signer) sign(v any, pubkey, signature *string) ([]byte, error) {
	if len(s.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("sign: no private key")
	}
	*pubkey, *signature = s.Name, ""
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sign: encode: %w", err)
	}
	canon, _, err := Canonical(body)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	*signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, canon))
	body, err = json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sign: encode: %w", err)
	}
	return body, nil
}

// VerifyRequest decodes a request body and checks it: well formed
// (ErrMalformed, ErrProtocol), signed by a key in ring (ErrUnknownKey)
// that may speak for its callerid (ErrPrincipal), with a valid signature
// (ErrBadSignature). It does not check time or replay: see
// Request.CheckTime.
func VerifyRequest(body []byte, ring *KeyRing) (*Request, error) {
	var req Request
	if err := verify(body, ring, &req, func() (string, string, error) {
		return req.PubKey, req.CallerID, req.Validate()
	}); err != nil {
		return nil, err
	}
	if req.Data == nil {
		req.Data = map[string]any{}
	}
	return &req, nil
}

// VerifyReply decodes and checks a reply as VerifyRequest does a request;
// the key must be allowed to speak for the reply's senderid.
func VerifyReply(body []byte, ring *KeyRing) (*Reply, error) {
	var rep Reply
	if err := verify(body, ring, &rep, func() (string, string, error) {
		return rep.PubKey, rep.SenderID, rep.Validate()
	}); err != nil {
		return nil, err
	}
	return &rep, nil
}

// VerifyRegistration decodes and checks a registration as VerifyRequest
// does a request; the key must be allowed to speak for the identity.
func VerifyRegistration(body []byte, ring *KeyRing) (*Registration, error) {
	var reg Registration
	if err := verify(body, ring, &reg, func() (string, string, error) {
		return reg.PubKey, reg.Identity, reg.Validate()
	}); err != nil {
		return nil, err
	}
	return &reg, nil
}

// verify decodes body into v and checks its signature; check returns the
// key name and principal from the decoded v, or v's validation error.
func verify(body []byte, ring *KeyRing, v any, check func() (key, principal string, err error)) error {
	if len(body) > MaxMessageSize {
		return fmt.Errorf("%d bytes: too large: %w", len(body), ErrMalformed)
	}
	canon, sig, err := Canonical(body)
	if err != nil {
		return err
	}
	if err := decodeStrict(body, v); err != nil {
		return err
	}
	key, principal, err := check()
	if err != nil {
		return err
	}
	pub, ok := ring.Lookup(key)
	if !ok {
		return fmt.Errorf("key %q: %w", key, ErrUnknownKey)
	}
	if !ring.Allows(key, principal) {
		return fmt.Errorf("key %q for %q: %w", key, principal, ErrPrincipal)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize || !ed25519.Verify(pub, canon, raw) {
		return fmt.Errorf("key %q: %w", key, ErrBadSignature)
	}
	return nil
}

// Canonical returns the bytes a message's signature is made over, and the
// signature member's value (empty if absent). body must be one JSON object
// whose member names are distinct and made of a-z, 0-9 and '_'. The
// canonical form is that object without its "signature" member, with the
// members sorted by name (bytewise) and each value compacted (whitespace
// outside strings removed, nothing else changed): {"name":value,...}.
// Errors wrap ErrMalformed.
func Canonical(body []byte) (canon []byte, signature string, err error) {
	// A hand-written scan of the top level: encoding/json's token reader
	// cost as much as the signature check. Each value is validated by
	// json.Compact below, and the rest of the grammar here, so the body is
	// valid JSON when this returns no error.
	type member struct {
		name  string
		value []byte
	}
	var members []member
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, "", fmt.Errorf("not a JSON object: %w", ErrMalformed)
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i >= len(body) || body[i] != '"' {
				return nil, "", fmt.Errorf("member name expected at byte %d: %w", i, ErrMalformed)
			}
			j := i + 1
			for j < len(body) && body[j] != '"' {
				j++
			}
			if j >= len(body) {
				return nil, "", fmt.Errorf("unterminated member name: %w", ErrMalformed)
			}
			name := string(body[i+1 : j])
			if !validMemberName(name) {
				return nil, "", fmt.Errorf("member name %q: %w", name, ErrMalformed)
			}
			for _, m := range members {
				if m.name == name {
					return nil, "", fmt.Errorf("member %q appears twice: %w", name, ErrMalformed)
				}
			}
			i = skipSpace(body, j+1)
			if i >= len(body) || body[i] != ':' {
				return nil, "", fmt.Errorf("member %q: colon expected: %w", name, ErrMalformed)
			}
			i = skipSpace(body, i+1)
			end, err := scanValue(body, i)
			if err != nil {
				return nil, "", fmt.Errorf("member %q: %w: %w", name, err, ErrMalformed)
			}
			if name == "signature" {
				if err := json.Unmarshal(body[i:end], &signature); err != nil {
					return nil, "", fmt.Errorf("signature: %w: %w", err, ErrMalformed)
				}
			}
			members = append(members, member{name, body[i:end]})
			i = skipSpace(body, end)
			if i < len(body) && body[i] == ',' {
				i = skipSpace(body, i+1)
				continue
			}
			if i < len(body) && body[i] == '}' {
				i++
				break
			}
			return nil, "", fmt.Errorf("comma or end of object expected at byte %d: %w", i, ErrMalformed)
		}
	}
	if skipSpace(body, i) != len(body) {
		return nil, "", fmt.Errorf("data after the object: %w", ErrMalformed)
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	buf.Grow(len(body))
	buf.WriteByte('{')
	first := true
	for _, m := range members {
		if m.name == "signature" {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteByte('"')
		buf.WriteString(m.name)
		buf.WriteString(`":`)
		if err := json.Compact(&buf, m.value); err != nil {
			return nil, "", fmt.Errorf("member %q: %w: %w", m.name, err, ErrMalformed)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), signature, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanValue returns the end of the JSON value starting at b[i]. It finds
// the extent only; json.Compact checks the value.
func scanValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("value expected")
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	}
	j := i
	for j < len(b) && !endsLiteral(b[j]) {
		j++
	}
	if j == i {
		return 0, errors.New("value expected")
	}
	return j, nil
}

// endsLiteral reports whether c ends a number, true, false or null.
func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// scanString returns the end of the JSON string starting at b[i].
func scanString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

func validMemberName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
