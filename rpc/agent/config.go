package agent

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"

	"fleetfeed/rpc"
)

// Version is the agent's software version, reported by rpcutil and in
// registrations. The build may set it with -ldflags "-X".
var Version = "0.1.0"

// Defaults for Config.
const (
	DefaultCollective           = "fleetfeed"
	DefaultRegistrationInterval = 5 * time.Minute
	DefaultClockSkew            = 30 * time.Second
	DefaultReplayCacheSize      = 100_000
	DefaultWorkers              = 8
	DefaultConfigPath           = "/etc/fleetfeed/agent.yaml"
)

// Config configures an agent. The YAML fields come from the agent's
// configuration file (see agent.example.yaml); the fields tagged yaml:"-"
// let a program (tests, the simulator) hand over what the file would name.
type Config struct {
	// Identity is the node's name, unique in the collective; by default
	// the host name.
	Identity   string `yaml:"identity"`
	Collective string `yaml:"collective"`
	// Broker is the broker URL (stomp://host:61613, stomp+ssl://…) for
	// the program that makes the Connector; the agent does not read it.
	Broker string `yaml:"broker"`

	// KeyFile is the agent's private key, which signs its replies and
	// registrations; KeyName is what others call it (default: Identity).
	KeyFile string `yaml:"key_file"`
	KeyName string `yaml:"key_name"`
	// TrustedKeys and TrustedKeysDir (every NAME.pub in it, with default
	// principals) are the keys whose requests the agent accepts.
	TrustedKeys    []TrustedKey `yaml:"trusted_keys"`
	TrustedKeysDir string       `yaml:"trusted_keys_dir"`

	Policy rpc.Policy `yaml:"policy"`

	// FactsFile is a YAML or JSON file of facts. Without one, the agent
	// runs Facter ("facter -j") unless Facter is "none"; Facter may name
	// the program.
	FactsFile string `yaml:"facts_file"`
	Facter    string `yaml:"facter"`
	// ClassesFile is Puppet's classes.txt, one class per line.
	ClassesFile string `yaml:"classes_file"`

	Plugins PluginsConfig `yaml:"plugins"`

	// RegistrationInterval is how often the inventory is published
	// (default 5 min; negative: never). RegistrationSplay delays the first
	// one by a random time up to it, so that a fleet started together does
	// not register at once.
	RegistrationInterval time.Duration `yaml:"registration_interval"`
	RegistrationSplay    time.Duration `yaml:"registration_splay"`
	// ClockSkew is how far in the future a request's msgtime may be.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// ReplayCacheSize bounds how many request ids are remembered.
	ReplayCacheSize int `yaml:"replay_cache_size"`
	// Workers bounds how many requests run at once.
	Workers int `yaml:"workers"`

	// Path is the file the configuration was read from (daemon_stats
	// reports it).
	Path string `yaml:"-"`
	// Key, when set, is used instead of KeyFile.
	Key ed25519.PrivateKey `yaml:"-"`
	// Keys, when set, is used instead of TrustedKeys and TrustedKeysDir.
	Keys *rpc.KeyRing `yaml:"-"`
	// Facts and Classes, when Facts is non-nil, are used instead of the
	// files and Facter (and never reloaded).
	Facts   map[string]any `yaml:"-"`
	Classes []string       `yaml:"-"`
	// MACs, when set, are reported instead of the host's interfaces.
	MACs []string `yaml:"-"`
	// Runner runs commands for the plugins; nil means ExecRunner.
	Runner Runner `yaml:"-"`
	// Now is the clock; nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// ExtraPlugins are added to the configured ones.
	ExtraPlugins []Plugin `yaml:"-"`
}

// TrustedKey is a public key the agent accepts requests from: the key
// itself (base64 or PEM) or a file holding it, and the callerids it may
// sign for (default "user=<name>").
type TrustedKey struct {
	Name       string   `yaml:"name"`
	PublicKey  string   `yaml:"public_key"`
	File       string   `yaml:"file"`
	Principals []string `yaml:"principals"`
}

// PluginsConfig chooses and configures the plugins. rpcutil is always on.
type PluginsConfig struct {
	// Enabled lists the plugins to load; nil means puppet, service and
	// package.
	Enabled []string      `yaml:"enabled"`
	Puppet  PuppetConfig  `yaml:"puppet"`
	Service ServiceConfig `yaml:"service"`
	Package PackageConfig `yaml:"package"`
}

// LoadConfig reads a YAML configuration file. Unknown keys are errors, so
// that a misspelt setting is not silently ignored.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	var cfg Config
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// withDefaults fills unset fields.
func (c Config) withDefaults() (Config, error) {
	if c.Identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("identity: %w", err)
		}
		c.Identity = h
	}
	if c.Collective == "" {
		c.Collective = DefaultCollective
	}
	if c.KeyName == "" {
		c.KeyName = c.Identity
	}
	if c.RegistrationInterval == 0 {
		c.RegistrationInterval = DefaultRegistrationInterval
	}
	if c.ClockSkew <= 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.ReplayCacheSize <= 0 {
		c.ReplayCacheSize = DefaultReplayCacheSize
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Plugins.Enabled == nil {
		c.Plugins.Enabled = []string{"puppet", "service", "package"}
	}
	if c.Runner == nil {
		c.Runner = ExecRunner{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// validate checks names and the policy.
func (c Config) validate() error {
	if err := rpc.CheckName(c.Identity); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := rpc.CheckName(c.Collective); err != nil {
		return fmt.Errorf("collective: %w", err)
	}
	if err := rpc.CheckName(c.KeyName); err != nil {
		return fmt.Errorf("key_name: %w", err)
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	for _, p := range c.Plugins.Service.Protected {
		if len(p) >= 2 && p[0] == '/' && p[len(p)-1] == '/' {
			if _, err := regexp.Compile(p[1 : len(p)-1]); err != nil {
				return fmt.Errorf("plugins.service.protected %q: %w", p, err)
			}
		}
	}
	return nil
}

// loadKeys returns the signing key and the trusted key ring.
func (c Config) loadKeys() (ed25519.PrivateKey, *rpc.KeyRing, error) {
	key := c.Key
	if key == nil {
		if c.KeyFile == "" {
			return nil, nil, errors.New("no key_file")
		}
		k, err := rpc.LoadPrivateKey(c.KeyFile)
		if err != nil {
			return nil, nil, err
		}
		key = k
	}
	if c.Keys != nil {
		return key, c.Keys, nil
	}
	ring := rpc.NewKeyRing()
	if c.TrustedKeysDir != "" {
		if err := ring.AddDir(c.TrustedKeysDir); err != nil {
			return nil, nil, err
		}
	}
	for _, tk := range c.TrustedKeys {
		var pub ed25519.PublicKey
		var err error
		switch {
		case tk.PublicKey != "" && tk.File != "":
			return nil, nil, fmt.Errorf("trusted key %q: both public_key and file", tk.Name)
		case tk.PublicKey != "":
			pub, err = rpc.ParsePublicKey([]byte(tk.PublicKey))
		case tk.File != "":
			pub, err = rpc.LoadPublicKey(tk.File)
		default:
			return nil, nil, fmt.Errorf("trusted key %q: neither public_key nor file", tk.Name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("trusted key %q: %w", tk.Name, err)
		}
		if err := ring.Add(tk.Name, pub, tk.Principals...); err != nil {
			return nil, nil, err
		}
	}
	return key, ring, nil
}

// discardLogger is used when New is given a nil logger.
var discardLogger = slog.New(slog.DiscardHandler)
