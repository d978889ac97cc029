package rpc

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// validators are the named string validators a DDL input may use; any
// other Validation is a regular expression.
var validators = map[string]func(string) error{
	"shellsafe":             validateShellSafe,
	"ipv4address":           validateIPv4,
	"ipv6address":           validateIPv6,
	"ipaddress":             validateIP,
	"hostname":              validateHostname,
	"puppet_tags":           validatePuppetTags,
	"puppet_variable":       validatePuppetVariable,
	"puppet_server_address": validatePuppetServer,
}

func validateString(validation, s string) error {
	if v, ok := validators[validation]; ok {
		return v(s)
	}
	re, err := cachedRegexp(regexBody(validation), false)
	if err != nil {
		return fmt.Errorf("bad validation %q: %w", validation, err)
	}
	if !re.MatchString(s) {
		return fmt.Errorf("%q does not match %s", s, validation)
	}
	return nil
}

// shellUnsafe are the sequences MCollective's shellsafe validator refuses,
// plus line breaks.
var shellUnsafe = []string{"`", "$", ";", "|", "&&", ">", "<", "\n", "\r"}

func validateShellSafe(s string) error {
	for _, bad := range shellUnsafe {
		if strings.Contains(s, bad) {
			return fmt.Errorf("%q is not shell safe: contains %q", s, bad)
		}
	}
	return nil
}

func validateIPv4(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", s)
	}
	return nil
}

func validateIPv6(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return fmt.Errorf("%q is not an IPv6 address", s)
	}
	return nil
}

func validateIP(s string) error {
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	return nil
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validateHostname(s string) error {
	if s == "" || len(s) > 253 {
		return fmt.Errorf("%q is not a host name", s)
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if !hostLabel.MatchString(l) {
			return fmt.Errorf("%q is not a host name", s)
		}
	}
	return nil
}

var puppetTag = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_:.\-]*$`)

func validatePuppetTags(s string) error {
	for _, t := range strings.Split(s, ",") {
		if !puppetTag.MatchString(strings.TrimSpace(t)) {
			return fmt.Errorf("%q is not a valid Puppet tag", t)
		}
	}
	return nil
}

var puppetVariable = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

func validatePuppetVariable(s string) error {
	if !puppetVariable.MatchString(s) {
		return fmt.Errorf("%q is not a valid Puppet variable", s)
	}
	return nil
}

func validatePuppetServer(s string) error {
	host, port := s, ""
	if h, p, err := splitHostPort(s); err == nil {
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: bad port", s)
		}
	}
	if validateHostname(host) != nil && validateIP(host) != nil {
		return fmt.Errorf("%q is not a host[:port]", s)
	}
	return nil
}

// splitHostPort splits "host:port" and "[v6]:port"; a bare host or IPv6
// address is an error.
func splitHostPort(s string) (string, string, error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", errors.New("missing ]")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", errors.New("junk after ]")
		}
		return host, rest[1:], nil
	}
	if strings.Count(s, ":") != 1 {
		return "", "", errors.New("no port")
	}
	h, p, _ := strings.Cut(s, ":")
	return h, p, nil
}
