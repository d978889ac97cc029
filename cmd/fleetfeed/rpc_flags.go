package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker"
)

// Exit codes of the RPC commands (rpc, ping, find, inventory, facts,
// puppet, plot; see docs/cli.md). Of 1, 2 and 5, the highest that applies
// wins; 3, 4 and 6 mean the command stopped before asking anyone, or
// could not go on.
const (
	exitOK          = 0 // every node asked answered with status OK
	exitFailed      = 1 // some nodes answered with a failure status
	exitNoResponse  = 2 // some nodes asked did not answer
	exitUsage       = 3 // bad flags, arguments, filter or inputs; nothing was sent
	exitNoNodes     = 4 // discovery found no node; nothing was sent
	exitInterrupted = 5 // interrupted (Ctrl-C) before every batch ran
	exitCannotRun   = 6 // could not run: broker, keys, server, files
)

func usageErr(format string, args ...any) error {
	return exitError{exitUsage, fmt.Errorf(format, args...)}
}

func cannotRun(err error) error { return exitError{exitCannotRun, err} }

// callErr maps an error of rpc.Client to its exit status.
func callErr(err error) error {
	var ee exitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return err
	case rpc.IsUsage(err):
		return exitError{exitUsage, err}
	case errors.Is(err, rpc.ErrNoNodes):
		return exitError{exitNoNodes, err}
	case errors.Is(err, context.Canceled):
		return exitError{exitInterrupted, err}
	}
	return exitError{exitCannotRun, err}
}

// statsErr is the exit status a call's statistics give (nil for 0).
func statsErr(st *rpc.Stats) error {
	asked := len(st.Targets) - len(st.NotSent)
	switch {
	case st.Cancelled:
		return exitError{exitInterrupted, fmt.Errorf("interrupted after %d of %d batches; %d nodes not asked", st.BatchesRun, st.Batches, len(st.NotSent))}
	case len(st.NoResponse) > 0:
		return exitError{exitNoResponse, fmt.Errorf("no response from %d of %d nodes", len(st.NoResponse), asked)}
	case st.Failed > 0:
		return exitError{exitFailed, fmt.Errorf("%d of %d nodes failed", st.Failed, asked)}
	}
	return nil
}

// withUsageExit makes flag errors exit with exitUsage.
func withUsageExit(cmd *cobra.Command) *cobra.Command {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitError{exitUsage, err} })
	return cmd
}

func rpcConfigDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "fleetfeed")
	}
	return ".fleetfeed"
}

func rpcUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "nobody"
}

func rpcEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// clientFlags are how an RPC command reaches the fleet.
type clientFlags struct {
	Broker     string
	Collective string
	Key        string
	KeyName    string
	Caller     string
	TrustDir   string
	Trust      []string
	DDLs       []string
	// audit, if set, records the calls of the client connect makes.
	audit rpc.Auditor
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	name := rpcUser()
	fs.StringVar(&f.Broker, "broker", rpcEnv("FLEETFEED_BROKER", "stomp://127.0.0.1:61613"), "STOMP broker URL, stomp://user:pass@host:61613 ($FLEETFEED_BROKER)")
	fs.StringVar(&f.Collective, "collective", rpcEnv("FLEETFEED_COLLECTIVE", rpc.DefaultCollective), "collective to talk to ($FLEETFEED_COLLECTIVE)")
	fs.StringVar(&f.Key, "key", rpcEnv("FLEETFEED_KEY", filepath.Join(rpcConfigDir(), "client.key")), "ed25519 private key that signs requests ($FLEETFEED_KEY; see fleetfeed keygen)")
	fs.StringVar(&f.KeyName, "key-name", rpcEnv("FLEETFEED_KEY_NAME", name), "name the agents know the key by ($FLEETFEED_KEY_NAME)")
	fs.StringVar(&f.Caller, "caller", rpcEnv("FLEETFEED_CALLER", "user="+name), "caller id the requests carry ($FLEETFEED_CALLER)")
	fs.StringVar(&f.TrustDir, "trusted-dir", filepath.Join(rpcConfigDir(), "trusted"), "directory of NAME.pub keys trusted to sign replies from sender NAME")
	fs.StringArrayVar(&f.Trust, "trust", strings.Fields(os.Getenv("FLEETFEED_TRUST")),
		"trust a reply key: FILE.pub[=SENDER,...] (senders default to the file's name; * for any) ($FLEETFEED_TRUST, space separated)")
	fs.StringArrayVar(&f.DDLs, "ddl", nil, "JSON DDL of an agent the client does not know (repeatable)")
}

// trusted builds the key ring replies are checked with.
func (f *clientFlags) trusted() (*rpc.KeyRing, error) {
	ring := rpc.NewKeyRing()
	if st, err := os.Stat(f.TrustDir); err == nil && st.IsDir() {
		if err := ring.AddDir(f.TrustDir); err != nil {
			return nil, err
		}
	}
	for _, spec := range f.Trust {
		file, principals, _ := strings.Cut(spec, "=")
		pub, err := rpc.LoadPublicKey(file)
		if err != nil {
			return nil, err
		}
		var ps []string
		if principals != "" {
			ps = strings.Split(principals, ",")
		}
		if err := ring.Add(strings.TrimSuffix(filepath.Base(file), ".pub"), pub, ps...); err != nil {
			return nil, err
		}
	}
	if len(ring.Names()) == 0 {
		return nil, fmt.Errorf("no keys trusted to sign replies: put the agents' NAME.pub files in %s or name them with --trust", f.TrustDir)
	}
	return ring, nil
}

// ddls returns the builtin DDLs and those of --ddl.
func (f *clientFlags) ddls() ([]*rpc.DDL, error) {
	ddls := agent.BuiltinDDLs()
	for _, path := range f.DDLs {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var d rpc.DDL
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("ddl %s: %w", path, err)
		}
		if err := d.Check(); err != nil {
			return nil, fmt.Errorf("ddl %s: %w", path, err)
		}
		ddls = append(ddls, &d)
	}
	return ddls, nil
}

// rpcSession is a connected client; close releases it.
type rpcSession struct {
	conn   rpc.Connector
	client *rpc.Client
}

func (s *rpcSession) close() {
	s.client.Close()
	s.conn.Close()
}

// connect loads the keys, dials the broker and starts a client whose
// asynchronous replies go to the listener async (DefaultAsyncListener if
// empty) and whose async requests are recorded in store, if not nil. Its
// errors exit with exitCannotRun.
func (f *clientFlags) connect(ctx context.Context, async string, store rpc.ReplyStore) (*rpcSession, error) {
	if async == "" {
		async = rpc.DefaultAsyncListener
	}
	key, err := rpc.LoadPrivateKey(f.Key)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, cannotRun(fmt.Errorf("%w (create a key with: fleetfeed keygen)", err))
		}
		return nil, cannotRun(err)
	}
	ring, err := f.trusted()
	if err != nil {
		return nil, cannotRun(err)
	}
	ddls, err := f.ddls()
	if err != nil {
		return nil, cannotRun(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := broker.Dial(dctx, f.Broker, broker.Options{TopicBuffer: 1 << 16})
	if err != nil {
		return nil, cannotRun(err)
	}
	client, err := rpc.NewClient(dctx, conn, rpc.ClientConfig{
		Collective:   f.Collective,
		CallerID:     f.Caller,
		Signer:       &rpc.Signer{Name: f.KeyName, Key: key},
		Trusted:      ring,
		DDLs:         ddls,
		AsyncReplyTo: async,
		Store:        store,
		Audit:        f.audit,
	})
	if err != nil {
		conn.Close()
		return nil, cannotRun(err)
	}
	return &rpcSession{conn: conn, client: client}, nil
}

// filterFlags are MCollective's filter options.
type filterFlags struct {
	Identity []string
	Fact     []string
	Class    []string
	Agent    []string
	Compound []string
	With     []string
}

func (f *filterFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.Identity, "with-identity", "I", nil, "node identity, or /regex/ (repeatable: any matches)")
	fs.StringArrayVarP(&f.Fact, "with-fact", "F", nil, "fact comparison fact<op>value, op one of == != < > <= >= =~ (repeatable: all must match)")
	fs.StringArrayVarP(&f.Class, "with-class", "C", nil, "configuration class, or /regex/ (repeatable: all must match)")
	fs.StringArrayVarP(&f.Agent, "with-agent", "A", nil, "agent plugin, or /regex/ (repeatable: all must match)")
	fs.StringArrayVarP(&f.Compound, "select", "S", nil, `compound filter: "(os.family=Debian or class(/^roles::db/)) and not identity(/^test/)"`)
	fs.StringArrayVarP(&f.With, "with", "W", nil, `shorthand: "class fact=value …" (a word with an operator is a fact, else a class)`)
}

// filter builds the rpc.Filter; errors exit with exitUsage and say which
// flag, and for -S where.
func (f *filterFlags) filter() (*rpc.Filter, error) {
	out := &rpc.Filter{Identity: f.Identity, Class: f.Class, Agent: f.Agent}
	for _, s := range f.Fact {
		ff, err := rpc.ParseFactFilter(s)
		if err != nil {
			return nil, usageErr("-F %q: want fact<op>value with op one of == != < > <= >= =~", s)
		}
		out.Fact = append(out.Fact, ff)
	}
	for _, w := range f.With {
		for _, tok := range strings.Fields(w) {
			if strings.ContainsAny(tok, "=<>") {
				ff, err := rpc.ParseFactFilter(tok)
				if err != nil {
					return nil, usageErr("-W %q: %w", tok, err)
				}
				out.Fact = append(out.Fact, ff)
			} else {
				out.Class = append(out.Class, tok)
			}
		}
	}
	for _, s := range f.Compound {
		if _, err := rpc.ParseCompound(s); err != nil {
			var ce *rpc.CompoundError
			if errors.As(err, &ce) {
				return nil, usageErr("-S: %s\n    %s\n    %s^", ce.Error(), s, strings.Repeat(" ", ce.Column-1))
			}
			return nil, usageErr("-S: %w", err)
		}
		out.Compound = append(out.Compound, s)
	}
	if err := out.Validate(); err != nil {
		return nil, usageErr("filter: %w", err)
	}
	return out, nil
}

// onlyIdentity reports whether the filter has nothing but identities.
func (f *filterFlags) onlyIdentity() bool {
	return len(f.Fact)+len(f.Class)+len(f.Agent)+len(f.Compound)+len(f.With) == 0
}

// discoveryFlags choose how nodes are found.
type discoveryFlags struct {
	Method  string
	Timeout float64
	Nodes   string
	Server  string
}

func (f *discoveryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Method, "dm", "", "discovery method: broadcast, inventory, flatfile or stdin (default broadcast; stdin when it holds another command's -j output)")
	fs.Float64Var(&f.Timeout, "discovery-timeout", rpc.DefaultDiscoveryTimeout.Seconds(), "seconds to wait for broadcast discovery")
	fs.Float64Var(&f.Timeout, "dt", rpc.DefaultDiscoveryTimeout.Seconds(), "short for --discovery-timeout")
	fs.StringVar(&f.Nodes, "nodes", "", "file of node identities, one a line, or JSON (implies --dm flatfile)")
	fs.StringVar(&f.Server, "server", rpcEnv("FLEETFEED_SERVER", "http://127.0.0.1:8080"), "fleetfeed server for --dm inventory ($FLEETFEED_SERVER)")
}

func (f *discoveryFlags) timeout() time.Duration {
	return time.Duration(f.Timeout * float64(time.Second))
}

// discoverer returns the chosen method (nil for broadcast, which the
// client makes itself). Piped stdin holding JSON is read as a node list
// when no method is named and the filter names identities only.
func (f *discoveryFlags) discoverer(in io.Reader, flt *filterFlags) (rpc.Discoverer, error) {
	method := f.Method
	if f.Nodes != "" {
		if method != "" && method != "flatfile" {
			return nil, usageErr("--nodes goes with --dm flatfile, not %s", method)
		}
		method = "flatfile"
	}
	switch method {
	case "":
		if !flt.onlyIdentity() {
			return nil, nil
		}
		nodes, ok, err := readStdinNodes(in, false)
		if err != nil || !ok {
			return nil, err
		}
		return &rpc.NodeList{Name: "stdin", Nodes: nodes}, nil
	case "broadcast", "mc":
		return nil, nil
	case "inventory":
		return &rpc.InventoryDiscovery{Source: &rpc.HTTPInventory{URL: f.Server}}, nil
	case "flatfile":
		if f.Nodes == "" {
			return nil, usageErr("--dm flatfile needs --nodes FILE")
		}
		data, err := os.ReadFile(f.Nodes)
		if err != nil {
			return nil, cannotRun(err)
		}
		nodes, err := rpc.ParseNodeList(data)
		if err != nil {
			return nil, usageErr("--nodes %s: %w", f.Nodes, err)
		}
		return &rpc.NodeList{Name: "flatfile", Nodes: nodes}, nil
	case "stdin":
		nodes, _, err := readStdinNodes(in, true)
		if err != nil {
			return nil, err
		}
		return &rpc.NodeList{Name: "stdin", Nodes: nodes}, nil
	}
	return nil, usageErr("--dm %q: want broadcast, inventory, flatfile or stdin", method)
}

// readStdinNodes reads a node list from stdin. Unless explicit, it reads
// only a pipe or a file (never a terminal or /dev/null) and only takes
// JSON (another command's -j or --jsonl output).
func readStdinNodes(in io.Reader, explicit bool) ([]string, bool, error) {
	if f, ok := in.(*os.File); ok {
		if isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) {
			if explicit {
				return nil, false, usageErr("--dm stdin: standard input is a terminal")
			}
			return nil, false, nil
		}
		st, err := f.Stat()
		if err != nil {
			return nil, false, cannotRun(err)
		}
		if !explicit && st.Mode()&os.ModeNamedPipe == 0 && !st.Mode().IsRegular() {
			return nil, false, nil
		}
	}
	data, err := io.ReadAll(io.LimitReader(in, 64<<20))
	if err != nil {
		return nil, false, cannotRun(fmt.Errorf("read stdin: %w", err))
	}
	if !explicit && !rpc.LooksLikeJSON(data) {
		return nil, false, nil
	}
	nodes, err := rpc.ParseNodeList(data)
	if err != nil {
		return nil, false, usageErr("stdin: %w", err)
	}
	return nodes, true, nil
}

// requestFlags shape how a request is sent.
type requestFlags struct {
	Batch       string
	BatchSleep  float64
	Limit       string
	LimitMethod string
	LimitSeed   int64
	TTL         float64
	Timeout     float64
}

func (f *requestFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Batch, "batch", "", "send to N nodes (or N%) at a time, waiting for each batch")
	fs.Float64Var(&f.BatchSleep, "batch-sleep", 1, "seconds to sleep between batches")
	fs.StringVar(&f.Limit, "limit", "", "ask only N (or N%) of the discovered nodes")
	fs.StringVar(&f.LimitMethod, "limit-method", "random", "which nodes --limit keeps: random or first (in discovery order)")
	fs.Int64Var(&f.LimitSeed, "limit-seed", 0, "seed of the random --limit choice (0: a new one each time)")
	fs.Float64Var(&f.TTL, "ttl", rpc.DefaultTTL.Seconds(), "seconds a request stays valid: a node that comes back later never runs it")
	fs.Float64VarP(&f.Timeout, "timeout", "t", 0, "seconds to wait for replies (default: the DDL's timeout plus the discovery timeout)")
}

// apply fills call's sending options.
func (f *requestFlags) apply(call *rpc.Call) error {
	var err error
	if call.Batch, err = rpc.ParseSize(f.Batch); err != nil {
		return usageErr("--batch %w", err)
	}
	if call.Limit, err = rpc.ParseSize(f.Limit); err != nil {
		return usageErr("--limit %w", err)
	}
	switch rpc.LimitMethod(f.LimitMethod) {
	case rpc.LimitRandom, rpc.LimitFirst:
		call.LimitMethod = rpc.LimitMethod(f.LimitMethod)
	default:
		return usageErr("--limit-method %q: want random or first", f.LimitMethod)
	}
	if f.BatchSleep < 0 || f.TTL < 1 || f.TTL > rpc.MaxTTL.Seconds() || f.Timeout < 0 {
		return usageErr("--batch-sleep, --timeout must not be negative and --ttl must be 1 to %d seconds", int(rpc.MaxTTL.Seconds()))
	}
	call.LimitSeed = f.LimitSeed
	call.BatchSleep = time.Duration(f.BatchSleep * float64(time.Second))
	call.TTL = time.Duration(f.TTL * float64(time.Second))
	call.Timeout = time.Duration(f.Timeout * float64(time.Second))
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
