package rpc

import (
	"errors"
	"testing"
)

func TestLocationFromFacts(t *testing.T) {
	loc := LocationFromFacts(map[string]any{"datacenter": "ams1", "latitude": 52.37, "longitude": "4.90"})
	if loc == nil || loc.Latitude == nil || loc.Longitude == nil {
		t.Fatalf("location = %+v", loc)
	}
	if got, want := loc.Datacenter, "ams1"; got != want {
		t.Errorf("datacenter = %q, want %q", got, want)
	}
	if got, want := *loc.Longitude, 4.90; got != want {
		t.Errorf("longitude = %v, want %v", got, want)
	}
	nested := LocationFromFacts(map[string]any{"location": map[string]any{"latitude": -33.9, "longitude": 151.2}})
	if nested == nil || nested.Latitude == nil || *nested.Latitude != -33.9 {
		t.Errorf("nested location = %+v", nested)
	}
	if got := LocationFromFacts(map[string]any{"latitude": 123.0}); got != nil {
		t.Errorf("impossible latitude gave %+v", got)
	}
	if got := LocationFromFacts(map[string]any{"kernel": "Linux"}); got != nil {
		t.Errorf("no location facts gave %+v", got)
	}
}

func TestRegistrationSignVerify(t *testing.T) {
	signer, ring := testSigner(t, "web1.example.com")
	reg := &Registration{
		Protocol: ProtocolRegistration, Identity: "web1.example.com", Collective: "fleetfeed",
		Facts: map[string]any{"kernel": "Linux"}, Agents: []string{"rpcutil"}, Version: "0.1.0", Time: 1_800_000_000,
	}
	body, err := signer.SignRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyRegistration(body, ring)
	if err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	if got, want := got.Facts["kernel"], any("Linux"); got != want {
		t.Fatalf("kernel = %v, want %v", got, want)
	}
	dec, err := DecodeRegistration(body)
	if err != nil {
		t.Fatalf("DecodeRegistration: %v", err)
	}
	if got, want := dec.Identity, "web1.example.com"; got != want {
		t.Fatalf("identity = %q, want %q", got, want)
	}
	if _, err := DecodeRegistration([]byte(`{"protocol":"x"}`)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("DecodeRegistration(bad protocol) = %v, want ErrProtocol", err)
	}
}
