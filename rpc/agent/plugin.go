package agent

import (
	"context"

	"fleetfeed/rpc"
)

// Plugin is an agent plugin: the DDL that describes it and the code of
// its actions. The daemon subscribes to the plugin's broadcast topic,
// checks every request (signature, time, replay, targeting, policy) and
// validates its inputs against the DDL before it calls Do.
type Plugin interface {
	// DDL describes the plugin. It must return the same DDL every time.
	DDL() *rpc.DDL
	// Do runs one action of the DDL, with req.Inputs validated. It
	// returns the outputs. An error fails the reply: an *rpc.StatusError
	// chooses the status code and message, any other error gives status
	// 1 (aborted) with the error's text as the message, so that text must
	// be fit for the caller to read. Outputs returned with an error are
	// sent too. A panic is recovered and answered with status 5.
	Do(ctx context.Context, req *Request) (map[string]any, error)
}

// Request is one validated request as a plugin's action receives it.
type Request struct {
	// Wire is the request as it came; its Data is unvalidated.
	Wire *rpc.Request
	// Action is the action to run.
	Action string
	// Inputs are the validated inputs: string, int64, float64 or bool,
	// with the DDL's defaults filled in.
	Inputs map[string]any
	// Node is this node's inventory when the request came.
	Node rpc.Inventory
}

// String returns a string input, or "".
func (r *Request) String(name string) string {
	s, _ := r.Inputs[name].(string)
	return s
}

// Bool returns a boolean input, and whether it was given (or defaulted).
func (r *Request) Bool(name string) (value, ok bool) {
	value, ok = r.Inputs[name].(bool)
	return value, ok
}

// Int returns an integer input, and whether it was given (or defaulted).
func (r *Request) Int(name string) (int64, bool) {
	n, ok := r.Inputs[name].(int64)
	return n, ok
}

// Float returns a float or number input, and whether it was given (or
// defaulted).
func (r *Request) Float(name string) (float64, bool) {
	f, ok := r.Inputs[name].(float64)
	return f, ok
}
