package translators

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTranslateSnortGolden(t *testing.T) {
	for _, rel := range idsSharedInputs(t, "snort", nil) {
		t.Run(rel, func(t *testing.T) {
			evs, err := TranslateSnort("", readShared(t, rel), "")
			if err != nil {
				t.Fatal(err)
			}
			checkPlain(t, evs)
			if err := idsInvariants(SourceSnort, evs, nil); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, rel, evs)
		})
	}
}

func TestTranslateSnort(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		node     string
		wantNode string
		wantText string
		wantTags string
		wantTime time.Time
	}{
		{"snort 3 json, default fields",
			`{ "timestamp" : "07/16-09:23:39.153899", "pkt_num" : 5, "proto" : "TCP", "pkt_gen" : "stream_tcp", "pkt_len" : 97, "dir" : "C2S", "src_ap" : "192.168.1.2:50284", "dst_ap" : "192.168.2.3:80", "rule" : "1:1000000:0", "action" : "would_drop" }`,
			"", "192.168.2.3", "Suspicious network traffic was seen, coming from 192.168.1.2", "warning security snort", time.Time{}},
		{"snort 3 json, more fields",
			`{ "seconds" : 1721121819, "timestamp" : "07/16-09:23:39.153899", "msg" : "\"SERVER-WEBAPP directory traversal attempt\"", "class" : "web-application-attack", "priority" : 1, "gid" : 1, "sid" : 1122, "rev" : 16, "src_addr" : "203.0.113.9", "src_port" : 41000, "dst_addr" : "192.0.2.10", "dst_port" : 80, "proto" : "TCP", "action" : "drop" }`,
			"web01", "web01", "A known attack against the website was blocked, coming from 203.0.113.9", "critical security snort web_attack",
			time.Date(2024, 7, 16, 9, 23, 39, 153899000, time.UTC)},
		{"snort 2 fast, no year",
			`07/16-09:23:39.153899  [**] [1:1000001:1] INDICATOR-SHELLCODE x86 NOOP [**] [Classification: Attempted Administrator Privilege Gain] [Priority: 1] {TCP} 203.0.113.9:41000 -> 192.0.2.10:22`,
			"", "192.0.2.10", "An attempt to gain administrator access was seen, coming from 203.0.113.9", "critical security snort", time.Time{}},
		{"snort 2 fast, -y",
			`07/16/24-09:23:39.153899  [**] [1:2000:3] ET SCAN Nmap Scripting Engine User-Agent Detected [**] [Classification: Web Application Attack] [Priority: 1] {TCP} 203.0.113.9:41000 -> 192.0.2.10:80`,
			"", "192.0.2.10", "A known attack against the website was seen, coming from 203.0.113.9", "critical security snort web_attack",
			time.Date(2024, 7, 16, 9, 23, 39, 153899000, time.UTC)},
		{"snort 3 fast, quoted msg, action, AppID",
			`07/16-09:23:39.153899 [drop] [**] [1:1000000:0] "TEST ALERT" [**] [Classification: Misc Attack] [Priority: 2] [AppID: HTTP] {TCP} 192.168.1.2:50284 -> 192.168.2.3:80`,
			"", "192.168.2.3", "A network attack was blocked, coming from 192.168.1.2", "warning security snort", time.Time{}},
		{"icmp, no ports",
			`07/16/2024-09:23:39.153899  [**] [1:384:8] PROTOCOL-ICMP PING [**] [Classification: Misc activity] [Priority: 3] {ICMP} 2001:db8::9 -> 2001:db8::10`,
			"", "2001:db8::10", "Unusual network activity was seen, coming from 2001:db8::9", "notice security snort", time.Date(2024, 7, 16, 9, 23, 39, 153899000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateSnort("", []byte(tt.body), tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), 1; got != want {
				t.Fatalf("%d events, want %d", got, want)
			}
			ev := evs[0]
			if got, want := ev.Node, tt.wantNode; got != want {
				t.Errorf("node %q, want %q", got, want)
			}
			if got, want := ev.Post.Text, tt.wantText; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
			if got, want := strings.Join(ev.Post.Tags, " "), tt.wantTags; got != want {
				t.Errorf("tags %q, want %q", got, want)
			}
			if got, want := ev.Time, tt.wantTime; !got.Equal(want) {
				t.Errorf("time %s, want %s", got, want)
			}
			checkPlain(t, evs)
		})
	}
}

func TestTranslateSnortBadInput(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantLine int
		wantMsg  string
	}{
		{"not JSON", "{ \"rule\" : ", 1, "not a Snort alert_json object"},
		{"JSON but no rule", `{ "timestamp" : "07/16-09:23:39.153899", "pkt_num" : 5 }`, 1, "no rule, sid or msg"},
		{"bad rule", `{ "rule" : "1:x:0" }`, 1, "gid:sid:rev"},
		{"bad address", `{ "rule" : "1:1:0", "src_ap" : "nowhere:80" }`, 1, "source address"},
		{"bad time", `{ "rule" : "1:1:0", "timestamp" : "13/45-99:00:00" }`, 1, "time"},
		{"fast without rule", "\n\n07/16-09:23:39.153899  [**] msg [**] {TCP} 1.2.3.4:1 -> 5.6.7.8:2", 3, "gid:sid:rev"},
		{"fast bad priority", `07/16-09:23:39.153899  [**] [1:2:3] msg [**] [Priority: high] {TCP} 1.2.3.4:1 -> 5.6.7.8:2`, 1, "priority"},
		{"garbage", "GET / HTTP/1.1", 1, "not an alert_fast line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := TranslateSnort("", []byte(tt.body), "")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if evs != nil {
				t.Errorf("events with an error")
			}
			if got, want := pe.Line, tt.wantLine; got != want {
				t.Errorf("line %d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(pe.Msg, tt.wantMsg) {
				t.Errorf("message %q lacks %q", pe.Msg, tt.wantMsg)
			}
		})
	}
}

func TestIDSSplitEndpoint(t *testing.T) {
	tests := []struct {
		in, proto string
		addr      string
		port      int
	}{
		{"192.0.2.1:80", "TCP", "192.0.2.1", 80},
		{"192.0.2.1", "ICMP", "192.0.2.1", 0},
		{"192.0.2.1:8", "ICMP", "192.0.2.1", 8},
		{"0000:0000:0000:0000:0000:0000:0000:0001:3000", "TCP", "0000:0000:0000:0000:0000:0000:0000:0001", 3000},
		{"2001:db8::1:443", "TCP", "2001:db8::1", 443},
		{"2001:db8::1", "ICMP", "2001:db8::1", 0},
		{"[2001:db8::1]:443", "TCP", "2001:db8::1", 443},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, port, err := idsSplitEndpoint(tt.in, tt.proto)
			if err != nil {
				t.Fatal(err)
			}
			if addr != tt.addr || port != tt.port {
				t.Fatalf("got %s port %d, want %s port %d", addr, port, tt.addr, tt.port)
			}
		})
	}
}

func FuzzTranslateSnort(f *testing.F) {
	idsSeeds(f,
		filepath.Join(sharedTestdata, "snort/snort3-alert_json.docs-snort-org.jsonl"),
		filepath.Join(sharedTestdata, "snort/suricata-verify-http2-files.fast.log.head3"),
		filepath.Join(sharedTestdata, "snort/suricata-verify-lua-fastlog.fast.log"),
	)
	f.Add([]byte(`07/16-09:23:39.153899 [drop] [**] [1:1000000:0] "TEST" [**] [Priority: 0] [AppID: x] {ICMP} 1.2.3.4 -> [::1]:2`))
	f.Add([]byte(`{ "seconds" : 1721121819, "msg" : "x", "priority" : 1, "src_addr" : "203.0.113.9", "dst_addr" : "192.0.2.10", "b64_data" : "PHNjcmlwdD4=" }`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, node := range []string{"", "sensor1"} {
			idsCheck(t, SourceSnort, func() ([]Event, error) {
				return TranslateSnort("", body, node)
			})
		}
	})
}
