package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"fleetfeed/rpc"
)

// facterTimeout bounds one run of Facter.
const facterTimeout = 60 * time.Second

// LoadFacts reads a facts file: JSON, or YAML (a superset). An empty
// file gives no facts.
func LoadFacts(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load facts: %w", err)
	}
	facts, err := parseFacts(data)
	if err != nil {
		return nil, fmt.Errorf("load facts %s: %w", path, err)
	}
	return facts, nil
}

func parseFacts(data []byte) (map[string]any, error) {
	facts := map[string]any{}
	if len(bytes.TrimSpace(data)) == 0 {
		return facts, nil
	}
	if err := yaml.Unmarshal(data, &facts); err != nil {
		return nil, err
	}
	return normalizeFacts(facts).(map[string]any), nil
}

// normalizeFacts turns YAML's map[any]any (from non-string keys) into
// map[string]any so facts can be marshalled to JSON and walked by path.
func normalizeFacts(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeFacts(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalizeFacts(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalizeFacts(e)
		}
		return x
	}
	return v
}

// RunFacter runs "facter -j" with a timeout and returns its facts.
func RunFacter(ctx context.Context, r Runner, facter string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, facterTimeout)
	defer cancel()
	out, err := r.Run(ctx, Command{Path: facter, Args: []string{"-j"}, MaxOutput: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("facter: %w", err)
	}
	if out.ExitCode != 0 && len(out.Stdout) == 0 {
		return nil, fmt.Errorf("facter: exit status %d: %s", out.ExitCode, firstLine(out.Stderr))
	}
	if out.Truncated {
		return nil, fmt.Errorf("facter: output too large")
	}
	facts := map[string]any{}
	if err := json.Unmarshal(out.Stdout, &facts); err != nil {
		return nil, fmt.Errorf("facter: %w", err)
	}
	return facts, nil
}

// LoadClasses reads Puppet's classes.txt: one class per line; blank lines
// are skipped and duplicates dropped.
func LoadClasses(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load classes: %w", err)
	}
	defer f.Close()
	var classes []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.TrimSpace(sc.Text())
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		classes = append(classes, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load classes %s: %w", path, err)
	}
	return classes, nil
}

// loadInventory reads facts and classes from the configured sources.
func (a *Agent) loadInventory(ctx context.Context) (map[string]any, []string, error) {
	cfg := a.cfg
	if cfg.Facts != nil {
		return cfg.Facts, cfg.Classes, nil
	}
	facts := map[string]any{}
	switch {
	case cfg.FactsFile != "":
		f, err := LoadFacts(cfg.FactsFile)
		if err != nil {
			return nil, nil, err
		}
		facts = f
	case cfg.Facter != "none":
		name := cfg.Facter
		if name == "" {
			name = "facter"
		}
		if path, err := cfg.Runner.LookPath(name); err == nil {
			f, err := RunFacter(ctx, cfg.Runner, path)
			if err != nil {
				return nil, nil, err
			}
			facts = f
		} else if cfg.Facter != "" {
			return nil, nil, fmt.Errorf("facter: %w", err)
		}
	}
	var classes []string
	if cfg.ClassesFile != "" {
		c, err := LoadClasses(cfg.ClassesFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		classes = c
	}
	return facts, classes, nil
}

// refreshInventory reloads facts and classes; on error it keeps the old
// ones and logs.
func (a *Agent) refreshInventory(ctx context.Context) {
	if a.cfg.Facts != nil {
		return
	}
	facts, classes, err := a.loadInventory(ctx)
	if err != nil {
		a.log.Warn("inventory not refreshed", "err", err)
		return
	}
	a.mu.Lock()
	a.facts, a.classes = facts, classes
	a.mu.Unlock()
}

// Inventory returns what the agent's filters and policy see.
func (a *Agent) Inventory() rpc.Inventory {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return rpc.Inventory{Identity: a.cfg.Identity, Facts: a.facts, Classes: a.classes, Agents: a.agentNames}
}

// macs returns the MAC addresses to register: the configured ones, else
// those the facts name, else the host's interfaces.
func (a *Agent) macs(facts map[string]any) []string {
	if len(a.cfg.MACs) > 0 {
		return a.cfg.MACs
	}
	var macs []string
	add := func(v any) {
		if s, ok := v.(string); ok && s != "" && !slices.Contains(macs, s) {
			macs = append(macs, s)
		}
	}
	if ifaces, ok := rpc.LookupFact(facts, "networking.interfaces"); ok {
		if m, ok := ifaces.(map[string]any); ok {
			for _, name := range sortedNames(m) {
				if iface, ok := m[name].(map[string]any); ok {
					add(iface["mac"])
				}
			}
		}
	}
	for _, f := range []string{"networking.mac", "macaddress"} {
		if v, ok := rpc.LookupFact(facts, f); ok {
			add(v)
		}
	}
	if len(macs) > 0 || a.cfg.Facts != nil {
		return macs
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 && len(i.HardwareAddr) > 0 {
			add(i.HardwareAddr.String())
		}
	}
	return macs
}

func (a *Agent) fqdn(facts map[string]any) string {
	for _, f := range []string{"networking.fqdn", "fqdn"} {
		if v, ok := rpc.LookupFact(facts, f); ok {
			if s, ok := v.(string); ok && s != "" {
				return s
			}
		}
	}
	return a.cfg.Identity
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
