package demo

import (
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"fleetfeed/translators"
)

func TestNewFleet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		want  int
		roles []string // roles the fleet must have
	}{
		{name: "default", n: 0, want: DefaultSize, roles: []string{"frontend_web", "frontend_lb", "database", "cache", "message_queue", "build", "mail_relay"}},
		{name: "one", n: 1, want: 1, roles: []string{"frontend_web"}},
		{name: "small", n: 5, want: 5, roles: []string{"frontend_web", "app_server", "database"}},
		{name: "forty", n: 40, want: 40},
		{name: "large", n: 600, want: 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fleet := NewFleet(tc.n, 7)
			if got, want := len(fleet), tc.want; got != want {
				t.Fatalf("len(NewFleet(%d)) = %d, want %d", tc.n, got, want)
			}
			names, shorts, ips, macs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
			roles := map[string]bool{}
			for _, s := range fleet {
				for _, u := range []struct {
					seen map[string]bool
					v    string
				}{{names, s.Name}, {shorts, s.Short}, {ips, s.IP}, {macs, s.MAC}} {
					if u.seen[u.v] {
						t.Fatalf("%s: %q is not unique", s.Name, u.v)
					}
					u.seen[u.v] = true
				}
				roles[s.Role] = true
				checkServer(t, s)
			}
			for _, r := range tc.roles {
				if !roles[r] {
					t.Errorf("no server has role %s; roles: %v", r, roles)
				}
			}
		})
	}
}

var hostName = regexp.MustCompile(`^[a-z]+[0-9]{2,}\.(shop|ops)\.example\.com$`)

func checkServer(t *testing.T, s Server) {
	t.Helper()
	if !hostName.MatchString(s.Name) {
		t.Errorf("name %q does not look like web01.shop.example.com", s.Name)
	}
	if got, want := s.Short, strings.SplitN(s.Name, ".", 2)[0]; got != want {
		t.Errorf("%s: Short = %q, want %q", s.Name, got, want)
	}
	if a, err := netip.ParseAddr(s.IP); err != nil || !a.Is4() {
		t.Errorf("%s: IP %q is not an IPv4 address", s.Name, s.IP)
	}
	if got, want := translators.RoleTags(s.Classes), []string{s.Role}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: role tags of %v = %v, want %v", s.Name, s.Classes, got, want)
	}
	if !slices.Contains(s.Classes, "profile::base") {
		t.Errorf("%s: classes %v lack profile::base", s.Name, s.Classes)
	}
	if s.Bio == "" || strings.Contains(s.Bio, "%") || len(s.Bio) > 120 {
		t.Errorf("%s: bio %q", s.Name, s.Bio)
	}
	for _, k := range []string{"os", "kernel", "cpus", "memory", "datacenter", "latitude", "longitude"} {
		if _, ok := s.Facts[k]; !ok {
			t.Errorf("%s: no %s fact", s.Name, k)
		}
	}
	if got, want := s.Facts["datacenter"], s.Datacenter.Name; got != want {
		t.Errorf("%s: datacenter fact %v, want %v", s.Name, got, want)
	}
	p := s.Profile()
	if err := p.Validate(); err != nil {
		t.Errorf("%s: profile: %v", s.Name, err)
	}
	if p.Location == nil || p.Location.Latitude == nil || *p.Location.Latitude != s.Datacenter.Latitude {
		t.Errorf("%s: profile location %+v, want %+v", s.Name, p.Location, s.Datacenter)
	}
	if !slices.Contains(p.Aliases, s.Short) || !slices.Contains(p.Aliases, s.IP) {
		t.Errorf("%s: profile aliases %v lack the short name or the address", s.Name, p.Aliases)
	}
}

func TestNewFleetDeterministic(t *testing.T) {
	a, b := NewFleet(40, 3), NewFleet(40, 3)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("NewFleet(40, 3) differs between two calls")
	}
	c := NewFleet(40, 4)
	same := 0
	for i := range a {
		if a[i].MAC == c[i].MAC {
			same++
		}
	}
	if same == len(a) {
		t.Error("seeds 3 and 4 give the same MAC addresses")
	}
	for i := range a {
		if got, want := c[i].Name, a[i].Name; got != want {
			t.Fatalf("server %d is %s with one seed and %s with another: names should not depend on the seed", i, got, want)
		}
	}
}

func TestNewFleetShares(t *testing.T) {
	counts := map[string]int{}
	dcs := map[string]bool{}
	for _, s := range NewFleet(40, 1) {
		counts[s.Role]++
		dcs[s.Datacenter.Name] = true
	}
	for _, tc := range []struct {
		role string
		want int
	}{
		{"frontend_web", 8}, {"frontend_lb", 2}, {"database", 4}, {"app_server", 6}, {"monitoring", 1},
	} {
		t.Run(tc.role, func(t *testing.T) {
			if got := counts[tc.role]; got != tc.want {
				t.Errorf("%d %s servers, want %d", got, tc.role, tc.want)
			}
		})
	}
	if got, want := len(dcs), len(Datacenters()); got != want {
		t.Errorf("the fleet stands in %d datacenters, want all %d", got, want)
	}
}

func TestRoleClass(t *testing.T) {
	for _, tc := range []struct{ role, want string }{
		{"frontend_web", "Roles::Frontend_web"},
		{"database", "Roles::Database"},
		{"message_queue", "Roles::Message_queue"},
	} {
		t.Run(tc.role, func(t *testing.T) {
			if got := (Server{Role: tc.role}).RoleClass(); got != tc.want {
				t.Errorf("RoleClass() = %q, want %q", got, tc.want)
			}
		})
	}
}
