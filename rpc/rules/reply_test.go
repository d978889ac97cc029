package rules

import (
	"strings"
	"testing"

	"fleetfeed/rpc"
)

func TestReplyWording(t *testing.T) {
	described := &Rule{Name: "lb-after-httpd", Description: "Refresh the load balancers after a web server restarts"}
	plain := &Rule{Name: "lb-after-httpd"}
	stats := func(targets, ok, failed, silent int) *rpc.Stats {
		st := &rpc.Stats{OK: ok, Failed: failed}
		for i := range targets {
			st.Targets = append(st.Targets, "lb"+string(rune('a'+i)))
		}
		st.NoResponse = st.Targets[:silent]
		return st
	}
	tests := []struct {
		name, got, want string
	}{
		{"both did", ranText(described, "run Puppet", stats(2, 2, 0, 0)),
			"Refresh the load balancers after a web server restarts: 2 servers were asked to run Puppet and both did it"},
		{"both did, no description", ranText(plain, "run Puppet", stats(2, 2, 0, 0)),
			"An automatic rule asked 2 servers to run Puppet: both did it"},
		{"all failed", ranText(described, "run Puppet", stats(3, 0, 3, 0)),
			"Refresh the load balancers after a web server restarts: 3 servers were asked to run Puppet and all 3 failed"},
		{"silent", ranText(plain, "run Puppet", stats(2, 0, 0, 2)),
			"An automatic rule asked 2 servers to run Puppet: neither answered"},
		{"mixed", ranText(described, "run Puppet", stats(4, 2, 1, 1)),
			"Refresh the load balancers after a web server restarts: 4 servers were asked to run Puppet; 2 did it, 1 failed and 1 did not answer"},
		{"none matched", ranText(described, "run Puppet", stats(0, 0, 0, 0)),
			"Refresh the load balancers after a web server restarts: no server matched, so nothing was asked"},
		{"none matched, no description", ranText(plain, "run Puppet", stats(0, 0, 0, 0)),
			"An automatic rule wanted servers to run Puppet, but none matched"},
		{"not asked", notAskedText(plain, "run Puppet"), "An automatic rule could not ask the servers to run Puppet"},
		{"dry run", dryRunText(plain, "run Puppet", 1), "An automatic rule would have asked 1 server to run Puppet (a dry run: nothing was sent)"},
		{"dry run failed", dryRunFailedText(described, "run Puppet"),
			"Refresh the load balancers after a web server restarts: finding the servers to run Puppet failed (a dry run)"},
		{"too long with the description", dryRunText(&Rule{Description: strings.Repeat("x", MaxDescription)}, "carry out inventory collect_everything", 2000),
			"An automatic rule would have asked 2000 servers to carry out inventory collect_everything (a dry run: nothing was sent)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got  %q\nwant %q", tt.got, tt.want)
			}
			if len(tt.got) > maxReply || strings.Contains(tt.got, "lb-after-httpd") {
				t.Fatalf("%q is too long or names the rule", tt.got)
			}
		})
	}
}
