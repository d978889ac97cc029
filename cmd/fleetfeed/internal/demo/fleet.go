// Package demo is the simulated fleet behind `fleetfeed serve --demo`.
//
// NewFleet makes dozens of servers with names, roles, Puppet classes,
// datacenters, addresses and profiles. Run then plays them at a human
// pace: it builds the raw payloads the real tools would send — Puppet run
// reports as YAML, Nagios notifications as forms, Suricata EVE alert lines,
// fail2ban ban and unban forms — and POSTs them to the server's ingest
// endpoints, so every demo post travels the same path a real one does.
//
// Incidents are coherent: a Nagios problem is acknowledged and recovered a
// few events later, a failed Puppet run is fixed by the next run on the same
// server, a ban is lifted. The payload builders are pure functions of a
// server, a random source and a time, so they are tested against the real
// translators.
package demo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"fleetfeed/nodes"
)

// DefaultSize is the number of servers of the default demo fleet.
const DefaultSize = 40

// Server is one simulated server.
type Server struct {
	// Name is the fully qualified name, also the Puppet certname:
	// "web01.shop.example.com".
	Name string
	// Short is the host name alone, as Nagios knows it: "web01".
	Short string
	// Role is the role hashtag; the role class is "roles::" + Role.
	Role string
	// Classes are the Puppet classes the server has, in lower case.
	Classes    []string
	Datacenter Datacenter
	IP         string
	MAC        string
	// OS names the operating system and its release.
	OS string
	// Bio says in one line what the server does for the business.
	Bio     string
	Contact string
	// Facts are what the server's inventory reports (os, kernel, cpus,
	// memory, datacenter, latitude, longitude, …).
	Facts map[string]any
}

// RoleClass is the role class as Puppet writes it in a containment path:
// "Roles::Frontend_web".
func (s Server) RoleClass() string {
	return puppetClassName("roles::" + s.Role)
}

// Profile is the server's profile as the nodes store takes it.
func (s Server) Profile() nodes.Profile {
	bio, contact := s.Bio, s.Contact
	lat, lon := s.Datacenter.Latitude, s.Datacenter.Longitude
	facts := make(map[string]any, len(s.Facts))
	for k, v := range s.Facts {
		facts[k] = v
	}
	return nodes.Profile{
		Bio:     &bio,
		Contact: &contact,
		Location: &nodes.Location{
			Datacenter: s.Datacenter.Name,
			Latitude:   &lat,
			Longitude:  &lon,
		},
		Classes: append([]string(nil), s.Classes...),
		Facts:   facts,
		Aliases: []string{s.Short, s.IP, s.MAC},
	}
}

// NewFleet returns n servers (DefaultSize when n < 1), their roles shared
// out the way a web shop's are: mostly web and application servers, a few
// databases, caches, load balancers and the servers operations run. The
// same n and seed always give the same fleet.
func NewFleet(n int, seed int64) []Server {
	if n < 1 {
		n = DefaultSize
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x666c656574)) // "fleet"
	counts := shareOut(n)
	fleet := make([]Server, 0, n)
	macs := map[string]bool{}
	for i := range roleSpecs {
		spec := &roleSpecs[i]
		// Each role's servers fill its datacenters in turn, starting at
		// a place the seed picks.
		start := r.IntN(len(spec.dcs))
		for k := 1; k <= counts[i]; k++ {
			dc := datacenter(spec.dcs[(start+k-1)%len(spec.dcs)])
			short := fmt.Sprintf("%s%02d", spec.prefix, k)
			mac := newMAC(r, macs)
			s := Server{
				Name:       short + "." + spec.domain,
				Short:      short,
				Role:       spec.role,
				Classes:    classesOf(spec),
				Datacenter: dc,
				IP:         addressOf(len(fleet)),
				MAC:        mac,
				OS:         spec.os.name,
				Bio:        bioOf(spec, dc, k),
				Contact:    spec.contact,
			}
			s.Facts = map[string]any{
				"fqdn":       s.Name,
				"hostname":   s.Short,
				"os":         spec.os.name,
				"os_family":  spec.os.family,
				"kernel":     spec.os.kernels[r.IntN(len(spec.os.kernels))],
				"cpus":       spec.cpus[r.IntN(len(spec.cpus))],
				"memory":     spec.memory[r.IntN(len(spec.memory))],
				"virtual":    "kvm",
				"ipaddress":  s.IP,
				"macaddress": s.MAC,
				"datacenter": dc.Name,
				"city":       dc.City,
				"latitude":   dc.Latitude,
				"longitude":  dc.Longitude,
			}
			fleet = append(fleet, s)
		}
	}
	return fleet
}

// shareOut splits n servers among the roles by weight, largest remainder
// first, so a fleet of 40 has exactly the weights and a fleet of 1 is one
// web server.
func shareOut(n int) []int {
	total := 0
	for _, s := range roleSpecs {
		total += s.weight
	}
	counts := make([]int, len(roleSpecs))
	rems := make([]int, len(roleSpecs))
	given := 0
	for i, s := range roleSpecs {
		counts[i] = n * s.weight / total
		rems[i] = n * s.weight % total
		given += counts[i]
	}
	for ; given < n; given++ {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
	}
	return counts
}

// classesOf lists a role's classes: its role, its profiles and the base
// profiles every server has.
func classesOf(spec *roleSpec) []string {
	cs := []string{"roles::" + spec.role}
	for _, p := range append([]string{spec.profile}, spec.extra...) {
		cs = append(cs, strings.ToLower(p))
	}
	return append(cs, "profile::base", "profile::base::ssh", "profile::base::time",
		"profile::base::users", "profile::monitoring::nrpe")
}

// addressOf gives the i-th server an address from the documentation
// ranges, 192.0.2.0/24 first; a fleet too large for them continues in
// 10.0.0.0/16.
func addressOf(i int) string {
	switch {
	case i < 240:
		return fmt.Sprintf("192.0.2.%d", 10+i)
	case i < 480:
		return fmt.Sprintf("198.51.100.%d", 10+i-240)
	}
	i -= 480
	return fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)
}

// newMAC returns a MAC address with KVM's prefix, unique in seen.
func newMAC(r *rand.Rand, seen map[string]bool) string {
	for {
		m := fmt.Sprintf("52:54:00:%02x:%02x:%02x", r.IntN(256), r.IntN(256), r.IntN(256))
		if !seen[m] {
			seen[m] = true
			return m
		}
	}
}

// bioOf writes the server's one-line bio; the first database is the
// primary, the others its replicas.
func bioOf(spec *roleSpec, dc Datacenter, k int) string {
	switch {
	case spec.role == "database" && k > 1:
		return "Keeps a copy of the shop's orders, ready to take over"
	case strings.Contains(spec.bio, "%s"):
		return fmt.Sprintf(spec.bio, region[dc.Name])
	}
	return spec.bio
}

// attackerAddress is an address in 203.0.113.0/24, the documentation range
// the fleet itself never uses.
func attackerAddress(r *rand.Rand) string {
	return netip.AddrFrom4([4]byte{203, 0, 113, byte(2 + r.IntN(252))}).String()
}
