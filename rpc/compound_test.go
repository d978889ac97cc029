package rpc

import (
	"errors"
	"strings"
	"testing"
)

func TestCompoundMatch(t *testing.T) {
	inv := Inventory{
		Identity: "web1.example.com",
		Facts:    testFacts,
		Classes:  []string{"settings", "roles::frontend_web", "profile::nginx"},
		Agents:   []string{"rpcutil", "puppet", "service"},
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"kernel=Linux", true},
		{"kernel==linux", true},
		{"kernel!=Linux", false},
		{"processorcount>2", true},
		{"processorcount<2", false},
		{"processorcount>=4 and processorcount<=4", true},
		{"processorcount=>4", true},
		{"processorcount=<3", false},
		{"memorysize_mb>999", true}, // numerically, although "2048.5" < "999" as strings
		{"os.release.major=12", true},
		{"os.family=/^deb/", true},
		{"os.family=~^Red", false},
		{`fact("networking.fqdn")="web1.example.com"`, true},
		{"roles::frontend_web", true},
		{"/^profile::/", true},
		{"roles::database", false},
		{"class(settings)", true},
		{"agent(puppet) and agent(/^serv/)", true},
		{"agent(package)", false},
		{"identity(web1.example.com)", true},
		{"identity(/^db/)", false},
		{"IDENTITY(/^WEB/)", true},
		{"not roles::database", true},
		{"!roles::database", true},
		{"not (kernel=Linux)", false},
		{"roles::database or kernel=Linux", true},
		{"roles::database || kernel=Windows", false},
		{"kernel=Linux && !agent(package)", true},
		{"((kernel=Linux and roles::database) or os.family=Debian) and /nginx/", true},
		{"kernel=Linux and roles::database or settings", true}, // and binds tighter
		{"kernel=Linux and (roles::database or nothing_here)", false},
		{`"roles::frontend_web"`, true},
		{`version = '10.2'`, true},
		{"missing_fact!=x", false},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			c, err := ParseCompound(tc.expr)
			if err != nil {
				t.Fatalf("ParseCompound: %v", err)
			}
			if got := c.Match(inv); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompoundErrors(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		column int
		msg    string
	}{
		{"", 1, "empty expression"},
		{"(kernel=Linux and settings", 27, "expected ')' to close the '(' at column 1, found the end of the expression"},
		{"kernel=Linux settings", 14, "expected 'and', 'or' or the end of the expression, found 'settings'"},
		{"kernel=Linux and", 17, "expected a fact comparison"},
		{"kernel=", 8, "expected a value after '='"},
		{"kernel=Linux)", 13, "')' without a matching '('"},
		{"kernel>/x/", 8, "a regular expression can only follow '=' or '=~'"},
		{"os=/unclosed", 4, "unterminated regular expression"},
		{`x="unclosed`, 3, "unterminated string"},
		{"frob(x)", 1, `unknown function "frob"`},
		{"identity(web1", 14, "expected ')' to close the '(' at column 9"},
		{"a ~ b", 3, "'~' is not an operator"},
		{"a & b", 3, "use 'and' or 'or'"},
		{"x=/[/", 3, "bad regular expression"},
		{"über=1 and (", 13, "expected a fact comparison"}, // columns count characters
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseCompound(tc.expr)
			var ce *CompoundError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *CompoundError", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if got, want := ce.Column, tc.column; got != want {
				t.Errorf("column = %d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", ce.Msg, tc.msg)
			}
		})
	}
}

func TestFilterValidateCompound(t *testing.T) {
	if err := (&Filter{Compound: []string{"a=1 and (b=2 or c)"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (&Filter{Compound: []string{"a=1 and"}}).Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Validate = %v, want ErrMalformed", err)
	}
}
