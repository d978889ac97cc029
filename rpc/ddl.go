package rpc

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DDL describes an agent plugin: what it is, its actions, their inputs and
// outputs, how a client shows and summarizes the replies. Agents validate
// every request against it; clients use it to validate before sending,
// to prompt, to label outputs and to aggregate. It marshals to JSON in the
// shape of Choria's agent DDL.
type DDL struct {
	Metadata Metadata     `json:"metadata"`
	Actions  []*ActionDDL `json:"actions"`
}

// Metadata names and describes a plugin.
type Metadata struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Author      string `json:"author,omitempty"`
	License     string `json:"license,omitempty"`
	Version     string `json:"version"`
	URL         string `json:"url,omitempty"`
	// Timeout is how long, in seconds, an action may run on a node before
	// it is cancelled. A client waits this long for replies, plus its
	// discovery time.
	Timeout int `json:"timeout"`
}

// Display says which replies a client shows by default.
type Display string

// The display rules.
const (
	DisplayOK     Display = "ok"     // only successful replies
	DisplayFailed Display = "failed" // only failures (the default)
	DisplayAlways Display = "always" // every reply
)

// ActionDDL describes one action.
type ActionDDL struct {
	Name        string                `json:"action"`
	Description string                `json:"description"`
	Display     Display               `json:"display,omitempty"`
	Input       map[string]*InputDDL  `json:"input,omitempty"`
	Output      map[string]*OutputDDL `json:"output,omitempty"`
	Aggregate   []AggregateDDL        `json:"aggregate,omitempty"`
}

// InputType is the type of an input.
type InputType string

// The input types. On the wire an integer, float or number is a JSON
// number, a boolean a JSON boolean, a string or list a JSON string.
const (
	TypeString  InputType = "string"
	TypeInteger InputType = "integer"
	TypeFloat   InputType = "float"
	TypeNumber  InputType = "number"
	TypeBoolean InputType = "boolean"
	// TypeList is a string that must be one of InputDDL.List.
	TypeList InputType = "list"
)

// InputDDL describes one input of an action.
type InputDDL struct {
	Prompt      string    `json:"prompt"`
	Description string    `json:"description"`
	Type        InputType `json:"type"`
	// Validation applies to strings: the name of a validator (shellsafe,
	// ipv4address, ipv6address, ipaddress, hostname, puppet_tags,
	// puppet_variable, puppet_server_address) or a regular expression,
	// with or without slashes.
	Validation string `json:"validation,omitempty"`
	Optional   bool   `json:"optional"`
	Default    any    `json:"default,omitempty"`
	// MaxLength bounds a string's length in characters; 0 means no bound.
	MaxLength int      `json:"maxlength,omitempty"`
	List      []string `json:"list,omitempty"`
}

// OutputDDL describes one output of an action.
type OutputDDL struct {
	Description string `json:"description"`
	DisplayAs   string `json:"display_as"`
	// Default fills the output when the action does not set it.
	Default any    `json:"default,omitempty"`
	Type    string `json:"type,omitempty"`
}

// AggregateDDL names a summary a client computes over all replies'
// values of the outputs in Args, e.g. {"function":"summary","args":["status"]}.
type AggregateDDL struct {
	Function string   `json:"function"`
	Args     []string `json:"args"`
	// Format is an optional printf format for the result ("Average: %0.2f").
	Format string `json:"format,omitempty"`
}

// Aggregate functions a DDL may name.
var aggregateFunctions = []string{"summary", "boolean_summary", "average", "sum", "min", "max", "count", "chart"}

// Action returns the named action, or nil.
func (d *DDL) Action(name string) *ActionDDL {
	for _, a := range d.Actions {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// ActionNames returns the names of d's actions in order.
func (d *DDL) ActionNames() []string {
	names := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		names[i] = a.Name
	}
	return names
}

// TimeoutDuration is Metadata.Timeout as a duration, 10 s if unset.
func (d *DDL) TimeoutDuration() time.Duration {
	if d.Metadata.Timeout <= 0 {
		return 10 * time.Second
	}
	return time.Duration(d.Metadata.Timeout) * time.Second
}

// Check checks that d itself is sound: names, types, validators,
// defaults, display rules and aggregate functions.
func (d *DDL) Check() error {
	if err := CheckName(d.Metadata.Name); err != nil {
		return fmt.Errorf("ddl: %w", err)
	}
	seen := map[string]bool{}
	for _, a := range d.Actions {
		if err := CheckName(a.Name); err != nil {
			return fmt.Errorf("ddl %s: action: %w", d.Metadata.Name, err)
		}
		if seen[a.Name] {
			return fmt.Errorf("ddl %s: action %s declared twice", d.Metadata.Name, a.Name)
		}
		seen[a.Name] = true
		switch a.Display {
		case "", DisplayOK, DisplayFailed, DisplayAlways:
		default:
			return fmt.Errorf("ddl %s#%s: display %q", d.Metadata.Name, a.Name, a.Display)
		}
		for name, in := range a.Input {
			if err := in.check(name); err != nil {
				return fmt.Errorf("ddl %s#%s: %w", d.Metadata.Name, a.Name, err)
			}
		}
		for _, ag := range a.Aggregate {
			if !slices.Contains(aggregateFunctions, ag.Function) {
				return fmt.Errorf("ddl %s#%s: aggregate function %q", d.Metadata.Name, a.Name, ag.Function)
			}
			for _, arg := range ag.Args {
				if _, ok := a.Output[arg]; !ok {
					return fmt.Errorf("ddl %s#%s: aggregate %s of unknown output %q", d.Metadata.Name, a.Name, ag.Function, arg)
				}
			}
		}
	}
	return nil
}

func (in *InputDDL) check(name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	switch in.Type {
	case TypeString:
		if in.Validation != "" {
			if _, ok := validators[in.Validation]; !ok {
				if _, err := cachedRegexp(regexBody(in.Validation), false); err != nil {
					return fmt.Errorf("input %s: validation: %w", name, err)
				}
			}
		}
	case TypeList:
		if len(in.List) == 0 {
			return fmt.Errorf("input %s: list type without a list", name)
		}
	case TypeInteger, TypeFloat, TypeNumber, TypeBoolean:
	default:
		return fmt.Errorf("input %s: type %q", name, in.Type)
	}
	if in.Default != nil {
		if _, err := in.convert(name, in.Default); err != nil {
			return fmt.Errorf("default: %w", err)
		}
	}
	return nil
}

// InputError says which input of a request is missing or invalid. Its
// Code is StatusMissingData or StatusInvalidData.
type InputError struct {
	Input string
	Code  StatusCode
	Msg   string
}

// Error names the input and the problem.
func (e *InputError) Error() string { return fmt.Sprintf("input %s: %s", e.Input, e.Msg) }

// ValidateInputs checks data against a's inputs and returns the inputs to
// run with: typed (string, int64, float64 or bool), with defaults filled
// in. An unknown input, a missing required one, or a value of the wrong
// type, length or form is an *InputError.
func (a *ActionDDL) ValidateInputs(data map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(a.Input))
	for _, k := range sortedKeys(data) {
		if _, ok := a.Input[k]; !ok {
			return nil, &InputError{Input: k, Code: StatusInvalidData, Msg: "unknown input for action " + a.Name}
		}
	}
	for _, name := range sortedKeys(a.Input) {
		in := a.Input[name]
		v, ok := data[name]
		if !ok || v == nil {
			if in.Default != nil {
				v = in.Default
			} else if in.Optional {
				continue
			} else {
				return nil, &InputError{Input: name, Code: StatusMissingData, Msg: "required"}
			}
		}
		typed, err := in.convert(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = typed
	}
	return out, nil
}

// convert checks one value and returns it in its Go type.
func (in *InputDDL) convert(name string, v any) (any, error) {
	bad := func(format string, args ...any) error {
		return &InputError{Input: name, Code: StatusInvalidData, Msg: fmt.Sprintf(format, args...)}
	}
	switch in.Type {
	case TypeString, TypeList:
		s, ok := v.(string)
		if !ok {
			return nil, bad("want a string, got %s", jsonType(v))
		}
		if in.MaxLength > 0 && utf8.RuneCountInString(s) > in.MaxLength {
			return nil, bad("longer than %d characters", in.MaxLength)
		}
		if in.Type == TypeList {
			if !slices.Contains(in.List, s) {
				return nil, bad("%q is not one of %s", s, strings.Join(in.List, ", "))
			}
			return s, nil
		}
		if in.Validation != "" {
			if err := validateString(in.Validation, s); err != nil {
				return nil, bad("%v", err)
			}
		}
		return s, nil
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("want a boolean, got %s", jsonType(v))
		}
		return b, nil
	case TypeInteger:
		f, ok := number(v)
		if !ok {
			return nil, bad("want an integer, got %s", jsonType(v))
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, bad("want an integer, got %v", f)
		}
		return int64(f), nil
	case TypeFloat, TypeNumber:
		f, ok := number(v)
		if !ok {
			return nil, bad("want a number, got %s", jsonType(v))
		}
		return f, nil
	}
	return nil, bad("unknown type %q", in.Type)
}

// Parse reads a value typed on a command line ("true", "12", "web") as
// this input's type, for a client to send.
func (in *InputDDL) Parse(s string) (any, error) {
	switch in.Type {
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case TypeInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case TypeFloat, TypeNumber:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	}
	return s, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
