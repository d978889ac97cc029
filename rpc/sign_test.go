package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSignVerifyRequest(t *testing.T) {
	signer, ring := testSigner(t, "alice")
	req := testRequest()
	body, err := signer.SignRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyRequest(body, ring)
	if err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if got, want := got.RequestID, req.RequestID; got != want {
		t.Fatalf("requestid = %q, want %q", got, want)
	}
	if got, want := got.PubKey, "alice"; got != want {
		t.Fatalf("pubkey = %q, want %q", got, want)
	}
	if got, want := got.Data["noop"], any(true); got != want {
		t.Fatalf("data.noop = %v, want %v", got, want)
	}
	if got, want := got.Data["splaylimit"], any(json.Number("10")); got != want {
		t.Fatalf("data.splaylimit = %#v, want %#v", got, want)
	}
}

// Changing any signed member must break the signature.
func TestVerifyRequestTampered(t *testing.T) {
	signer, ring := testSigner(t, "alice")
	body, err := signer.SignRequest(testRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"agent", `"agent":"puppet"`, `"agent":"service"`},
		{"action", `"action":"runonce"`, `"action":"disable"`},
		{"data", `"noop":true`, `"noop":false`},
		{"filter", `"web1.example.com"`, `"db1.example.com"`},
		{"ttl", `"ttl":60`, `"ttl":3600`},
		{"msgtime", `"msgtime":1`, `"msgtime":2`},
		{"added member", `"ttl":60`, `"ttl":60,"replyto":"/topic/fleetfeed.reply.mallory"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(body), tc.old) {
				t.Fatalf("body has no %s: %s", tc.old, body)
			}
			bad := []byte(strings.Replace(string(body), tc.old, tc.new, 1))
			if _, err := VerifyRequest(bad, ring); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyRequest = %v, want ErrBadSignature", err)
			}
		})
	}
}

// The signature covers the values, not the layout: reordered members
// and added whitespace still verify.
func TestVerifyRequestReformatted(t *testing.T) {
	signer, ring := testSigner(t, "alice")
	body, err := signer.SignRequest(testRequest())
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatal(err)
	}
	// encoding/json writes map keys sorted: a different order from the
	// struct's; MarshalIndent adds whitespace.
	reordered, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reordered, body) {
		t.Fatal("reformatting changed nothing")
	}
	if _, err := VerifyRequest(reordered, ring); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
}

func TestVerifyRequestRefused(t *testing.T) {
	signer, ring := testSigner(t, "alice")
	other, _ := testSigner(t, "alice") // same name, different key
	mallory, _ := testSigner(t, "mallory")
	sign := func(s *Signer, change func(*Request)) []byte {
		req := testRequest()
		change(req)
		body, err := s.SignRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	none := func(*Request) {}
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"not json", []byte("hello"), ErrMalformed},
		{"array", []byte("[]"), ErrMalformed},
		{"trailing data", append(sign(signer, none), []byte(" {}")...), ErrMalformed},
		{"duplicate member", []byte(strings.Replace(string(sign(signer, none)), `"agent":"puppet"`, `"agent":"puppet","agent":"service"`, 1)), ErrMalformed},
		{"upper-case member", []byte(strings.Replace(string(sign(signer, none)), `"agent":"puppet"`, `"agent":"puppet","Agent":"service"`, 1)), ErrMalformed},
		{"protocol", sign(signer, func(r *Request) { r.Protocol = "fleetfeed.rpc.v0" }), ErrProtocol},
		{"unknown key", sign(mallory, none), ErrUnknownKey},
		{"wrong key", sign(other, none), ErrBadSignature},
		{"caller not allowed", sign(signer, func(r *Request) { r.CallerID = "user=bob" }), ErrPrincipal},
		{"no signature", []byte(strings.Replace(string(sign(signer, none)), `"signature":`, `"ignored":`, 1)), ErrBadSignature},
		{"too large", bytes.Repeat([]byte(" "), MaxMessageSize+1), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyRequest(tc.body, ring); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	body := []byte(`{ "b": [1, 2], "signature": "c2ln", "a": {"y": "s p", "x": 1} }`)
	canon, sig, err := Canonical(body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(canon), `{"a":{"y":"s p","x":1},"b":[1,2]}`; got != want {
		t.Fatalf("canonical = %s, want %s", got, want)
	}
	if got, want := sig, "c2ln"; got != want {
		t.Fatalf("signature = %q, want %q", got, want)
	}
}

func TestSignVerifyReply(t *testing.T) {
	signer, ring := testSigner(t, "web1.example.com")
	rep := NewReply(testRequest(), "web1.example.com")
	rep.Data["pong"] = 12
	body, err := signer.SignReply(rep)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyReply(body, ring)
	if err != nil {
		t.Fatalf("VerifyReply: %v", err)
	}
	if got, want := got.SenderID, "web1.example.com"; got != want {
		t.Fatalf("senderid = %q, want %q", got, want)
	}
	// A reply cannot pass for a request, nor claim another sender.
	if _, err := VerifyRequest(body, ring); !errors.Is(err, ErrProtocol) {
		t.Fatalf("VerifyRequest(reply) = %v, want ErrProtocol", err)
	}
	rep.SenderID = "db1.example.com"
	body, err = signer.SignReply(rep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReply(body, ring); !errors.Is(err, ErrPrincipal) {
		t.Fatalf("VerifyReply(other sender) = %v, want ErrPrincipal", err)
	}
}

func TestSignerWithoutKey(t *testing.T) {
	if _, err := (&Signer{Name: "x"}).SignRequest(testRequest()); err == nil {
		t.Fatal("signed without a key")
	}
}

func TestCanonicalEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		ok         bool
	}{
		{`{}`, `{}`, true},
		{" {\n} ", `{}`, true},
		{`{"a":"x\"}y","b":"{[","c":{"d":"]}"}}`, `{"a":"x\"}y","b":"{[","c":{"d":"]}"}}`, true},
		{`{"b":true,"a":null,"c":-1.5e3}`, `{"a":null,"b":true,"c":-1.5e3}`, true},
		{`{"a":"\\"}`, `{"a":"\\"}`, true},
		{`{"a":1,}`, "", false},
		{`{"a" 1}`, "", false},
		{`{"a":}`, "", false},
		{`{"a":tru}`, "", false},
		{`{"a":[1,2}`, "", false},
		{`{"a":{"b":1]}`, "", false},
		{`{"a":"open}`, "", false},
		{`{"a":1}}`, "", false},
		{`{"a":1`, "", false},
		{`{"a\"b":1}`, "", false},
		{`{"é":1}`, "", false},
		{`{a:1}`, "", false},
	} {
		canon, _, err := Canonical([]byte(tc.body))
		if tc.ok != (err == nil) {
			t.Errorf("Canonical(%s) error = %v, want ok %v", tc.body, err, tc.ok)
			continue
		}
		if tc.ok && string(canon) != tc.want {
			t.Errorf("Canonical(%s) = %s, want %s", tc.body, canon, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrMalformed) {
			t.Errorf("Canonical(%s) = %v, want ErrMalformed", tc.body, err)
		}
	}
}

// FuzzCanonical checks the hand-written scanner against encoding/json: a
// body it accepts is valid JSON, and its canonical form holds the same
// members, minus the signature.
func FuzzCanonical(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1,"signature":"x"}`, `{"a":"x\"}y","b":[{"c":"]"}]}`, `{"a":1,}`, `{"a":[1,2}`, ` {"z" : { } , "y":[ ] } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		canon, sig, err := Canonical(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var whole, got map[string]any
		if err := json.Unmarshal(body, &whole); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		if err := json.Unmarshal(canon, &got); err != nil {
			t.Fatalf("canonical %q of %q: %v", canon, body, err)
		}
		if s, ok := whole["signature"].(string); ok && s != sig {
			t.Fatalf("signature %q, want %q", sig, s)
		}
		delete(whole, "signature")
		if !reflect.DeepEqual(whole, got) {
			t.Fatalf("canonical %s of %s differs", canon, body)
		}
	})
}
