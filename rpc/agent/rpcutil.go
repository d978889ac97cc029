package agent

import (
	"context"
	"os"
	"runtime"

	"fleetfeed/rpc"
)

// rpcutilPlugin answers questions about the agent itself.
type rpcutilPlugin struct{ agent *Agent }

var rpcutilDDL = &rpc.DDL{
	Metadata: rpc.Metadata{
		Name:        "rpcutil",
		Description: "General helpful actions that expose stats and internals to clients",
		Author:      "fleetfeed",
		License:     "Apache-2.0",
		Version:     "1.0.0",
		Timeout:     5,
	},
	Actions: []*rpc.ActionDDL{
		{
			Name:        "ping",
			Description: "Responds to requests for PING with PONG",
			Display:     rpc.DisplayAlways,
			Output: map[string]*rpc.OutputDDL{
				"pong": {Description: "The local Unix timestamp", DisplayAs: "Timestamp", Type: "integer"},
			},
		},
		{
			Name:        "inventory",
			Description: "System Inventory",
			Display:     rpc.DisplayAlways,
			Output: map[string]*rpc.OutputDDL{
				"agents":          {Description: "List of agent names", DisplayAs: "Agents", Type: "array"},
				"facts":           {Description: "List of facts and values", DisplayAs: "Facts", Type: "hash"},
				"classes":         {Description: "List of classes on the system", DisplayAs: "Classes", Type: "array"},
				"version":         {Description: "fleetfeed agent version", DisplayAs: "Version", Type: "string"},
				"main_collective": {Description: "The main collective", DisplayAs: "Main Collective", Type: "string"},
				"collectives":     {Description: "All collectives", DisplayAs: "All Collectives", Type: "array"},
				"data_plugins":    {Description: "List of data plugin names", DisplayAs: "Data Plugins", Type: "array"},
			},
		},
		{
			Name:        "get_fact",
			Description: "Retrieve a single fact from the fact store",
			Display:     rpc.DisplayAlways,
			Input: map[string]*rpc.InputDDL{
				"fact": {
					Prompt: "The name of the fact", Description: "The fact to retrieve (a dotted path reaches into nested facts)",
					Type: rpc.TypeString, Validation: `^[\w\-\.:]+$`, MaxLength: 256,
				},
			},
			Output: map[string]*rpc.OutputDDL{
				"fact":  {Description: "The name of the fact being returned", DisplayAs: "Fact", Type: "string"},
				"value": {Description: "The value of the fact", DisplayAs: "Value"},
			},
			Aggregate: []rpc.AggregateDDL{{Function: "summary", Args: []string{"value"}}},
		},
		{
			Name:        "agent_inventory",
			Description: "Inventory of all agents on the server",
			Display:     rpc.DisplayAlways,
			Output: map[string]*rpc.OutputDDL{
				"agents": {Description: "List of agents on the server", DisplayAs: "Agents", Type: "array"},
			},
		},
		{
			Name:        "daemon_stats",
			Description: "Get statistics from the running daemon",
			Display:     rpc.DisplayAlways,
			Output: map[string]*rpc.OutputDDL{
				"agents":     {Description: "List of agents loaded", DisplayAs: "Agents", Type: "array"},
				"pid":        {Description: "Process ID of the daemon", DisplayAs: "PID", Type: "integer"},
				"threads":    {Description: "Goroutines in the daemon", DisplayAs: "Threads", Type: "integer"},
				"starttime":  {Description: "Time the server started", DisplayAs: "Start Time", Type: "integer"},
				"configfile": {Description: "Config file used to start the daemon", DisplayAs: "Config File", Type: "string"},
				"version":    {Description: "Agent version", DisplayAs: "Version", Type: "string"},
				"total":      {Description: "Total requests received", DisplayAs: "Total Requests", Type: "integer"},
				"passed":     {Description: "Requests that passed every check and ran", DisplayAs: "Passed Filter", Type: "integer"},
				"filtered":   {Description: "Requests that did not target this node", DisplayAs: "Failed Filter", Type: "integer"},
				"validated":  {Description: "Requests with a good signature", DisplayAs: "Security Validated", Type: "integer"},
				"unvalidated": {
					Description: "Requests refused for their signature or key", DisplayAs: "Failed Security", Type: "integer",
				},
				"replies":    {Description: "Replies sent", DisplayAs: "Replies", Type: "integer"},
				"ttlexpired": {Description: "Requests that expired or came from the future", DisplayAs: "TTL Expired", Type: "integer"},
				"dropped":    {Description: "Refused requests by reason", DisplayAs: "Dropped", Type: "hash"},
			},
			Aggregate: []rpc.AggregateDDL{
				{Function: "summary", Args: []string{"version"}},
				{Function: "summary", Args: []string{"agents"}},
			},
		},
	},
}

func (p *rpcutilPlugin) DDL() *rpc.DDL { return rpcutilDDL }

func (p *rpcutilPlugin) Do(ctx context.Context, req *Request) (map[string]any, error) {
	a := p.agent
	switch req.Action {
	case "ping":
		return map[string]any{"pong": a.cfg.Now().Unix()}, nil
	case "inventory":
		return map[string]any{
			"agents":          req.Node.Agents,
			"facts":           req.Node.Facts,
			"classes":         nonNil(req.Node.Classes),
			"version":         Version,
			"main_collective": a.cfg.Collective,
			"collectives":     []string{a.cfg.Collective},
			"data_plugins":    []string{},
		}, nil
	case "get_fact":
		name := req.String("fact")
		v, _ := rpc.LookupFact(req.Node.Facts, name)
		return map[string]any{"fact": name, "value": v}, nil
	case "agent_inventory":
		var agents []map[string]any
		for _, d := range a.DDLs() {
			m := d.Metadata
			agents = append(agents, map[string]any{
				"agent": m.Name, "name": m.Name, "description": m.Description, "version": m.Version,
				"author": m.Author, "license": m.License, "url": m.URL, "timeout": m.Timeout,
			})
		}
		return map[string]any{"agents": agents}, nil
	case "daemon_stats":
		s := a.Stats()
		d := s.Dropped
		dropped := map[string]uint64{}
		for r, n := range d {
			dropped[string(r)] = n
		}
		unvalidated := d[ReasonMalformed] + d[ReasonProtocol] + d[ReasonUntrusted] + d[ReasonSignature]
		return map[string]any{
			"agents":      a.Agents(),
			"pid":         os.Getpid(),
			"threads":     runtime.NumGoroutine(),
			"starttime":   s.StartTime.Unix(),
			"configfile":  a.cfg.Path,
			"version":     Version,
			"total":       s.Received,
			"passed":      s.Passed,
			"filtered":    d[ReasonNotTargeted],
			"validated":   s.Received - unvalidated,
			"unvalidated": unvalidated,
			"replies":     s.Replies,
			"ttlexpired":  d[ReasonExpired] + d[ReasonFuture],
			"dropped":     dropped,
		}, nil
	}
	return nil, rpc.Errorf(rpc.StatusUnknownAction, "Unknown action %s for agent rpcutil", req.Action)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// BuiltinDDLs returns the DDLs of the plugins this package provides, for
// a client that validates requests before sending them.
func BuiltinDDLs() []*rpc.DDL {
	return []*rpc.DDL{rpcutilDDL, packageDDL, puppetDDL, serviceDDL}
}
