package agent

import (
	"context"
	"strings"

	"fleetfeed/rpc"
)

// PackageConfig configures the package plugin.
type PackageConfig struct {
	// Manager is dpkg, rpm, or auto (the default: dpkg-query if it is
	// installed, else rpm).
	Manager   string `yaml:"manager"`
	DpkgQuery string `yaml:"dpkg_query"`
	RPM       string `yaml:"rpm"`
}

// packagePlugin reports installed packages.
type packagePlugin struct {
	cfg PackageConfig
	run Runner
}

func newPackagePlugin(cfg PackageConfig, r Runner) *packagePlugin {
	if cfg.DpkgQuery == "" {
		cfg.DpkgQuery = "dpkg-query"
	}
	if cfg.RPM == "" {
		cfg.RPM = "rpm"
	}
	if cfg.Manager == "" || cfg.Manager == "auto" {
		cfg.Manager = "rpm"
		if _, err := r.LookPath(cfg.DpkgQuery); err == nil {
			cfg.Manager = "dpkg"
		}
	}
	return &packagePlugin{cfg: cfg, run: r}
}

var packageDDL = &rpc.DDL{
	Metadata: rpc.Metadata{
		Name:        "package",
		Description: "Query installed software packages",
		Author:      "fleetfeed",
		License:     "Apache-2.0",
		Version:     "1.0.0",
		Timeout:     30,
	},
	Actions: []*rpc.ActionDDL{{
		Name:        "status",
		Description: "Get the status of a package",
		Display:     rpc.DisplayAlways,
		Input: map[string]*rpc.InputDDL{
			"package": {
				Prompt: "Package Name", Description: "The package to query",
				Type: rpc.TypeString, Validation: `^[A-Za-z0-9][A-Za-z0-9+_.:\-]*$`, MaxLength: 256,
			},
		},
		Output: map[string]*rpc.OutputDDL{
			"name":     {Description: "Package name", DisplayAs: "Name", Type: "string"},
			"ensure":   {Description: "The installed version, or absent", DisplayAs: "Ensure", Type: "string", Default: "unknown"},
			"version":  {Description: "Installed version", DisplayAs: "Version", Type: "string", Default: ""},
			"arch":     {Description: "Architecture", DisplayAs: "Arch", Type: "string", Default: ""},
			"status":   {Description: "The package manager's own status words", DisplayAs: "Status", Type: "string", Default: ""},
			"provider": {Description: "Package manager", DisplayAs: "Provider", Type: "string"},
		},
		Aggregate: []rpc.AggregateDDL{{Function: "summary", Args: []string{"ensure"}}},
	}},
}

func (p *packagePlugin) DDL() *rpc.DDL { return packageDDL }

func (p *packagePlugin) Do(ctx context.Context, req *Request) (map[string]any, error) {
	if req.Action != "status" {
		return nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown action %s for agent package", req.Action)
	}
	name := req.String("package")
	if p.cfg.Manager == "rpm" {
		return p.rpmStatus(ctx, name)
	}
	return p.dpkgStatus(ctx, name)
}

// dpkgStatus asks dpkg-query. It prints one line per installed
// architecture; the first installed one wins. An unknown package is an
// exit status 1 with "no packages found" on stderr: absent.
func (p *packagePlugin) dpkgStatus(ctx context.Context, name string) (map[string]any, error) {
	out, err := p.run.Run(ctx, Command{Path: p.cfg.DpkgQuery,
		Args: []string{"-W", "-f=${Status}\t${Version}\t${Architecture}\n", "--", name}})
	if err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not query package %s: %v", name, err)
	}
	res := map[string]any{"name": name, "provider": "dpkg", "ensure": "absent"}
	if out.ExitCode != 0 {
		if strings.Contains(string(out.Stderr), "no packages found") {
			return res, nil
		}
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not query package %s: %s", name, firstLine(out.Stderr))
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out.Stdout)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		res["status"] = f[0]
		if strings.HasSuffix(f[0], " installed") {
			res["ensure"], res["version"], res["arch"] = f[1], f[1], f[2]
			break
		}
	}
	return res, nil
}

// rpmStatus asks rpm -q; an uninstalled package is exit status 1 with
// "is not installed" on stdout.
func (p *packagePlugin) rpmStatus(ctx context.Context, name string) (map[string]any, error) {
	out, err := p.run.Run(ctx, Command{Path: p.cfg.RPM,
		Args: []string{"-q", "--queryformat", "%{VERSION}-%{RELEASE}\t%{ARCH}\n", "--", name}})
	if err != nil {
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not query package %s: %v", name, err)
	}
	res := map[string]any{"name": name, "provider": "rpm", "ensure": "absent"}
	if out.ExitCode != 0 {
		if strings.Contains(string(out.Stdout), "is not installed") {
			return res, nil
		}
		return nil, rpc.Errorf(rpc.StatusAborted, "Could not query package %s: %s", name, firstLine(out.Stderr))
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out.Stdout)), "\n")
	if version, arch, ok := strings.Cut(line, "\t"); ok {
		res["ensure"], res["version"], res["arch"], res["status"] = version, version, arch, "installed"
	}
	return res, nil
}
