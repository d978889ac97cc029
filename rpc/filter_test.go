package rpc

import (
	"encoding/json"
	"testing"
)

var testFacts = map[string]any{
	"kernel":          "Linux",
	"osfamily":        "Debian",
	"processorcount":  4,
	"memorysize_mb":   "2048.5",
	"uptime_days":     float64(12),
	"version":         "10.2",
	"is_virtual":      true,
	"json_num":        json.Number("42"),
	"networking.fqdn": "web1.example.com", // a flat key with dots, as in facter's dotted output
	"os": map[string]any{
		"family":  "Debian",
		"release": map[string]any{"major": "12", "full": "12.8"},
	},
	"networking": map[string]any{
		"interfaces": map[string]any{
			"eth0": map[string]any{"ip": "192.0.2.10", "mac": "02:00:00:00:00:01"},
		},
	},
	"roles":     []any{"web", "cache"},
	"disks":     map[string]any{"sda": map[string]any{"size": "10 GiB"}, "sdb": map[string]any{}},
	"addresses": []any{map[string]any{"ip": "192.0.2.10"}},
	"nothing":   nil,
}

func TestFactFilterOperators(t *testing.T) {
	for _, tc := range []struct {
		fact, op, value string
		want            bool
	}{
		// ==: strings ignore case, numbers compare numerically.
		{"kernel", "==", "Linux", true},
		{"kernel", "==", "linux", true},
		{"kernel", "==", "Windows", false},
		{"processorcount", "==", "4", true},
		{"processorcount", "==", "4.0", true},
		{"json_num", "==", "42", true},
		{"is_virtual", "==", "true", true},
		{"is_virtual", "==", "false", false},
		// !=
		{"kernel", "!=", "Windows", true},
		{"kernel", "!=", "LINUX", false},
		{"processorcount", "!=", "8", true},
		{"missing", "!=", "x", false},
		{"nothing", "!=", "x", false},
		// < > <= >= numerically when both sides are numbers.
		{"processorcount", "<", "8", true},
		{"processorcount", "<", "4", false},
		{"processorcount", ">", "2", true},
		{"processorcount", ">", "10", false},
		{"processorcount", "<=", "4", true},
		{"processorcount", ">=", "4", true},
		{"processorcount", ">=", "5", false},
		{"memorysize_mb", ">", "1024", true},
		{"memorysize_mb", "<", "300", false}, // would be true as strings
		{"uptime_days", ">=", "12", true},
		{"version", ">", "9", true}, // 10.2 > 9 numerically
		// ... and as strings otherwise.
		{"osfamily", "<", "Redhat", true},
		{"osfamily", ">", "Arch", true},
		{"osfamily", "<=", "Debian", true},
		{"osfamily", ">=", "Fedora", false},
		// =~
		{"kernel", "=~", "^lin", true},
		{"kernel", "=~", "/^Lin/", true},
		{"kernel", "=~", "BSD", false},
		{"processorcount", "=~", "^[0-9]$", true},
		// Dotted paths, flat dotted keys, lists and maps.
		{"os.family", "==", "debian", true},
		{"os.release.major", ">=", "11", true},
		{"os.release.major", "<", "11", false},
		{"networking.interfaces.eth0.ip", "==", "192.0.2.10", true},
		{"networking.fqdn", "==", "web1.example.com", true},
		{"addresses.0.ip", "==", "192.0.2.10", true},
		{"addresses.1.ip", "==", "192.0.2.10", false},
		{"roles", "==", "cache", true},
		{"roles", "=~", "^ca", true},
		{"roles", "!=", "db", true},
		{"roles", "!=", "web", false},
		{"disks", "==", "sda", true},
		{"disks", "==", "sdc", false},
		{"os.missing", "==", "x", false},
		{"missing", "==", "", false},
	} {
		ff := FactFilter{Fact: tc.fact, Operator: tc.op, Value: tc.value}
		if err := ff.Validate(); err != nil {
			t.Fatalf("%v: %v", ff, err)
		}
		if got := ff.Match(testFacts); got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.fact, tc.op, tc.value, got, tc.want)
		}
	}
}

func TestParseFactFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FactFilter
		err  bool
	}{
		{in: "kernel=Linux", want: FactFilter{"kernel", "==", "Linux"}},
		{in: "kernel==Linux", want: FactFilter{"kernel", "==", "Linux"}},
		{in: "kernel = Linux", want: FactFilter{"kernel", "==", "Linux"}},
		{in: "kernel!=Linux", want: FactFilter{"kernel", "!=", "Linux"}},
		{in: "kernel=/^lin/", want: FactFilter{"kernel", "=~", "^lin"}},
		{in: "kernel=~/^lin/", want: FactFilter{"kernel", "=~", "^lin"}},
		{in: "kernel=~^lin", want: FactFilter{"kernel", "=~", "^lin"}},
		{in: "processors.count>2", want: FactFilter{"processors.count", ">", "2"}},
		{in: "processors.count<2", want: FactFilter{"processors.count", "<", "2"}},
		{in: "processors.count>=2", want: FactFilter{"processors.count", ">=", "2"}},
		{in: "processors.count=>2", want: FactFilter{"processors.count", ">=", "2"}},
		{in: "processors.count<=2", want: FactFilter{"processors.count", "<=", "2"}},
		{in: "processors.count=<2", want: FactFilter{"processors.count", "<=", "2"}},
		{in: "kernel", err: true},
		{in: "=Linux", err: true},
		{in: "kernel=~/(/", err: true},
	} {
		got, err := ParseFactFilter(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseFactFilter(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFactFilter(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseFactFilter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	inv := Inventory{
		Identity: "web1.example.com",
		Facts:    testFacts,
		Classes:  []string{"settings", "roles::frontend_web", "profile::nginx"},
		Agents:   []string{"rpcutil", "puppet", "service"},
	}
	fact := func(s string) FactFilter {
		ff, err := ParseFactFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		return ff
	}
	for _, tc := range []struct {
		name   string
		filter *Filter
		want   bool
	}{
		{"nil", nil, true},
		{"empty", &Filter{}, true},
		{"identity", &Filter{Identity: []string{"web1.example.com"}}, true},
		{"identity case", &Filter{Identity: []string{"WEB1.example.com"}}, true},
		{"identity other", &Filter{Identity: []string{"db1.example.com"}}, false},
		{"identity or", &Filter{Identity: []string{"db1.example.com", "web1.example.com"}}, true},
		{"identity regex", &Filter{Identity: []string{`/^web\d/`}}, true},
		{"identity regex other", &Filter{Identity: []string{`/^db/`}}, false},
		{"class", &Filter{Class: []string{"roles::frontend_web"}}, true},
		{"class regex", &Filter{Class: []string{"/nginx$/"}}, true},
		{"class and", &Filter{Class: []string{"settings", "roles::database"}}, false},
		{"agent", &Filter{Agent: []string{"puppet"}}, true},
		{"agent regex", &Filter{Agent: []string{"/^serv/"}}, true},
		{"agent missing", &Filter{Agent: []string{"package"}}, false},
		{"facts and", &Filter{Fact: []FactFilter{fact("kernel=Linux"), fact("processorcount>2")}}, true},
		{"facts and fails", &Filter{Fact: []FactFilter{fact("kernel=Linux"), fact("processorcount>8")}}, false},
		{"all parts", &Filter{
			Identity: []string{"/web/"}, Fact: []FactFilter{fact("os.family=Debian")},
			Class: []string{"settings"}, Agent: []string{"puppet"},
		}, true},
		{"compound", &Filter{Compound: []string{"kernel=Linux and roles::frontend_web"}}, true},
		{"compound and part", &Filter{Identity: []string{"/db/"}, Compound: []string{"kernel=Linux"}}, false},
		{"compound malformed", &Filter{Compound: []string{"kernel=Linux and ("}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.filter.Match(inv); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterNamesIdentity(t *testing.T) {
	var none *Filter
	if none.NamesIdentity("web1") {
		t.Error("nil filter names a node")
	}
	if (&Filter{Fact: []FactFilter{{"a", "==", "b"}}}).NamesIdentity("web1") {
		t.Error("filter without identities names a node")
	}
	if !(&Filter{Identity: []string{"db1", "web1"}}).NamesIdentity("web1") {
		t.Error("filter does not name its node")
	}
}

func TestFilterIdentities(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter *Filter
		want   bool
	}{
		{"literals", &Filter{Identity: []string{"a", "b"}}, true},
		{"regex", &Filter{Identity: []string{"a", "/b/"}}, false},
		{"with fact", &Filter{Identity: []string{"a"}, Fact: []FactFilter{{"a", "==", "b"}}}, false},
		{"empty", &Filter{}, false},
	} {
		if _, got := tc.filter.Identities(); got != tc.want {
			t.Errorf("%s: Identities ok = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFilterJSON(t *testing.T) {
	f := &Filter{Identity: []string{"web1"}, Fact: []FactFilter{{"os.family", "==", "Debian"}}}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `{"identity":["web1"],"fact":[{"fact":"os.family","operator":"==","value":"Debian"}]}`; got != want {
		t.Fatalf("JSON = %s, want %s", got, want)
	}
}
