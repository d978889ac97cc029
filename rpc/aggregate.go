package rpc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Summary is one aggregate of an action's DDL computed over the replies
// of a call, e.g. how many nodes have each Puppet status, or the average
// run time.
type Summary struct {
	// Function is the DDL's aggregate function: summary,
	// boolean_summary, count, average, sum, min, max or chart.
	Function string `json:"function"`
	// Output is the output aggregated, DisplayAs its label.
	Output    string `json:"output"`
	DisplayAs string `json:"display_as"`
	// Format is the DDL's printf format for Value, if any.
	Format string `json:"format,omitempty"`
	// Counts (summary, boolean_summary, count) are the values seen and
	// how often, most frequent first, then by value.
	Counts []ValueCount `json:"counts,omitempty"`
	// Value is the result of average, sum, min and max.
	Value float64 `json:"value"`
	// Values are the numbers seen (numeric functions and chart), in the
	// order of the replies, for sparklines and charts.
	Values []float64 `json:"values,omitempty"`
	// Err says why the summary could not be computed ("no numeric
	// values"); the other fields are then empty.
	Err string `json:"error,omitempty"`
}

// ValueCount is one value of a summary and how many replies had it.
type ValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Numeric reports whether the summary's result is a number.
func (s *Summary) Numeric() bool {
	switch s.Function {
	case "average", "sum", "min", "max", "chart":
		return true
	}
	return false
}

// Aggregate computes act's aggregates over the successful replies, in the
// DDL's order. A nil act has none, and neither has a call without a
// successful reply.
func Aggregate(act *ActionDDL, replies []Received) []Summary {
	if act == nil || !slices.ContainsFunc(replies, func(r Received) bool { return r.StatusCode == StatusOK }) {
		return nil
	}
	var out []Summary
	for _, ag := range act.Aggregate {
		for _, output := range ag.Args {
			s := Summary{Function: ag.Function, Output: output, DisplayAs: output, Format: ag.Format}
			if o := act.Output[output]; o != nil && o.DisplayAs != "" {
				s.DisplayAs = o.DisplayAs
			}
			var values []any
			for _, r := range replies {
				if r.StatusCode != StatusOK || r.Data == nil {
					continue
				}
				if v, ok := r.Data[output]; ok {
					values = append(values, v)
				}
			}
			s.compute(values)
			out = append(out, s)
		}
	}
	return out
}

func (s *Summary) compute(values []any) {
	if s.Numeric() {
		for _, v := range values {
			if f, ok := factNumber(v); ok {
				s.Values = append(s.Values, f)
			}
		}
		if len(s.Values) == 0 {
			s.Err = "no numeric values"
			return
		}
		switch s.Function {
		case "average", "sum":
			for _, f := range s.Values {
				s.Value += f
			}
			if s.Function == "average" {
				s.Value /= float64(len(s.Values))
			}
		case "min":
			s.Value = slices.Min(s.Values)
		case "max":
			s.Value = slices.Max(s.Values)
		}
		return
	}
	counts := map[string]int{}
	for _, v := range values {
		if list, ok := v.([]any); ok && s.Function != "count" {
			for _, e := range list {
				counts[summaryString(e)]++
			}
			continue
		}
		counts[summaryString(v)]++
	}
	if s.Function == "count" {
		n := 0
		for _, c := range counts {
			n += c
		}
		s.Value = float64(n)
	}
	if len(counts) == 0 {
		s.Err = "no values"
		return
	}
	for v, c := range counts {
		s.Counts = append(s.Counts, ValueCount{v, c})
	}
	slices.SortFunc(s.Counts, func(a, b ValueCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Value, b.Value)
	})
}

// summaryString renders a reply value for counting.
func summaryString(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string, json.Number, float64, int, int64, bool:
		return factString(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
