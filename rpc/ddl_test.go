package rpc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testDDL() *DDL {
	return &DDL{
		Metadata: Metadata{Name: "test", Description: "test plugin", Version: "1.0.0", Timeout: 3},
		Actions: []*ActionDDL{{
			Name: "act",
			Input: map[string]*InputDDL{
				"name":    {Type: TypeString, Validation: `^[a-z]+$`, MaxLength: 5},
				"message": {Type: TypeString, Validation: "shellsafe", Optional: true},
				"addr":    {Type: TypeString, Validation: "ipv4address", Optional: true},
				"count":   {Type: TypeInteger, Optional: true, Default: 3},
				"ratio":   {Type: TypeFloat, Optional: true},
				"n":       {Type: TypeNumber, Optional: true},
				"force":   {Type: TypeBoolean, Optional: true},
				"mode":    {Type: TypeList, List: []string{"fast", "slow"}, Optional: true},
			},
			Output:    map[string]*OutputDDL{"result": {DisplayAs: "Result"}},
			Aggregate: []AggregateDDL{{Function: "summary", Args: []string{"result"}}},
		}},
	}
}

func TestValidateInputs(t *testing.T) {
	act := testDDL().Action("act")
	for _, tc := range []struct {
		name  string
		data  map[string]any
		code  StatusCode // 0: valid
		input string
	}{
		{"minimal", map[string]any{"name": "web"}, 0, ""},
		{"all", map[string]any{"name": "web", "message": "hello world", "addr": "192.0.2.1", "count": json.Number("7"),
			"ratio": json.Number("0.5"), "n": 2.0, "force": true, "mode": "slow"}, 0, ""},
		{"missing", map[string]any{}, StatusMissingData, "name"},
		{"null is missing", map[string]any{"name": nil}, StatusMissingData, "name"},
		{"unknown", map[string]any{"name": "web", "extra": 1}, StatusInvalidData, "extra"},
		{"regex", map[string]any{"name": "Web"}, StatusInvalidData, "name"},
		{"maxlength", map[string]any{"name": "abcdef"}, StatusInvalidData, "name"},
		{"not a string", map[string]any{"name": 5}, StatusInvalidData, "name"},
		{"shellsafe", map[string]any{"name": "web", "message": "a; rm -rf /"}, StatusInvalidData, "message"},
		{"ipv4", map[string]any{"name": "web", "addr": "::1"}, StatusInvalidData, "addr"},
		{"integer fraction", map[string]any{"name": "web", "count": json.Number("1.5")}, StatusInvalidData, "count"},
		{"integer string", map[string]any{"name": "web", "count": "7"}, StatusInvalidData, "count"},
		{"float string", map[string]any{"name": "web", "ratio": "0.5"}, StatusInvalidData, "ratio"},
		{"boolean string", map[string]any{"name": "web", "force": "true"}, StatusInvalidData, "force"},
		{"list", map[string]any{"name": "web", "mode": "medium"}, StatusInvalidData, "mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := act.ValidateInputs(tc.data)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("ValidateInputs: %v", err)
				}
				if got, want := got["count"], any(int64(3)); tc.data["count"] == nil && got != want {
					t.Fatalf("default count = %#v, want %#v", got, want)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("ValidateInputs = %v, want an *InputError", err)
			}
			if got, want := ie.Code, tc.code; got != want {
				t.Fatalf("code = %v, want %v", got, want)
			}
			if got, want := ie.Input, tc.input; got != want {
				t.Fatalf("input = %q, want %q", got, want)
			}
			if !strings.Contains(err.Error(), tc.input) {
				t.Fatalf("message %q does not name the input", err)
			}
		})
	}
}

func TestValidateInputsTypes(t *testing.T) {
	act := testDDL().Action("act")
	got, err := act.ValidateInputs(map[string]any{"name": "web", "count": json.Number("7"), "ratio": json.Number("2"), "force": false})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := got["count"], any(int64(7)); got != want {
		t.Errorf("count = %#v, want %#v", got, want)
	}
	if got, want := got["ratio"], any(2.0); got != want {
		t.Errorf("ratio = %#v, want %#v", got, want)
	}
	if got, want := got["force"], any(false); got != want {
		t.Errorf("force = %#v, want %#v", got, want)
	}
	if _, ok := got["mode"]; ok {
		t.Error("an optional input without default was filled")
	}
}

func TestDDLCheck(t *testing.T) {
	if err := testDDL().Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*DDL)
	}{
		{"name", func(d *DDL) { d.Metadata.Name = "" }},
		{"duplicate action", func(d *DDL) { d.Actions = append(d.Actions, d.Actions[0]) }},
		{"display", func(d *DDL) { d.Actions[0].Display = "sometimes" }},
		{"type", func(d *DDL) { d.Actions[0].Input["name"].Type = "hash" }},
		{"regex", func(d *DDL) { d.Actions[0].Input["name"].Validation = "(" }},
		{"list", func(d *DDL) { d.Actions[0].Input["mode"].List = nil }},
		{"default", func(d *DDL) { d.Actions[0].Input["count"].Default = "three" }},
		{"aggregate function", func(d *DDL) { d.Actions[0].Aggregate[0].Function = "median" }},
		{"aggregate output", func(d *DDL) { d.Actions[0].Aggregate[0].Args = []string{"nope"} }},
	} {
		d := testDDL()
		tc.change(d)
		if err := d.Check(); err == nil {
			t.Errorf("%s: Check accepted a bad DDL", tc.name)
		}
	}
}

func TestDDLJSON(t *testing.T) {
	d := testDDL()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back DDL
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Check(); err != nil {
		t.Fatalf("Check after JSON round trip: %v", err)
	}
	if got, want := back.Action("act").Input["name"].MaxLength, 5; got != want {
		t.Fatalf("maxlength = %d, want %d", got, want)
	}
	for _, key := range []string{`"metadata"`, `"display_as"`, `"aggregate"`, `"maxlength"`, `"validation"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON has no %s: %s", key, data)
		}
	}
	if got, want := d.TimeoutDuration(), 3*time.Second; got != want {
		t.Fatalf("timeout = %v, want %v", got, want)
	}
}

func TestInputParse(t *testing.T) {
	for _, tc := range []struct {
		typ  InputType
		in   string
		want any
	}{
		{TypeBoolean, "yes", true},
		{TypeBoolean, "false", false},
		{TypeInteger, "12", int64(12)},
		{TypeFloat, "1.5", 1.5},
		{TypeString, "x", "x"},
	} {
		got, err := (&InputDDL{Type: tc.typ}).Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if _, err := (&InputDDL{Type: TypeInteger}).Parse("x"); err == nil {
		t.Error("Parse accepted a bad integer")
	}
}

func TestValidators(t *testing.T) {
	for _, tc := range []struct {
		validator, value string
		ok               bool
	}{
		{"shellsafe", "a plain message", true},
		{"shellsafe", "$(reboot)", false},
		{"shellsafe", "`reboot`", false},
		{"shellsafe", "a && b", false},
		{"shellsafe", "a | b", false},
		{"shellsafe", "a\nb", false},
		{"ipv4address", "192.0.2.1", true},
		{"ipv4address", "2001:db8::1", false},
		{"ipv6address", "2001:db8::1", true},
		{"ipv6address", "192.0.2.1", false},
		{"ipaddress", "192.0.2.1", true},
		{"ipaddress", "web1", false},
		{"hostname", "web1.example.com", true},
		{"hostname", "-web", false},
		{"hostname", "a_b", false},
		{"puppet_tags", "nginx,profile::web", true},
		{"puppet_tags", "nginx;reboot", false},
		{"puppet_variable", "production", true},
		{"puppet_variable", "prod-1", false},
		{"puppet_server_address", "puppet.example.com:8140", true},
		{"puppet_server_address", "puppet.example.com", true},
		{"puppet_server_address", "[2001:db8::1]:8140", true},
		{"puppet_server_address", "puppet:99999", false},
		{"puppet_server_address", "evil host", false},
	} {
		if got := validateString(tc.validator, tc.value) == nil; got != tc.ok {
			t.Errorf("%s(%q) ok = %v, want %v", tc.validator, tc.value, got, tc.ok)
		}
	}
}
