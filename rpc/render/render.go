// Package render writes the results of RPC calls for people and for
// programs: each node's reply as its DDL says to show it, the DDL's
// aggregate summaries, the statistics line, sparklines and text plots,
// and the stable JSON forms (-j, --jsonl) that other commands read back.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fleetfeed/rpc"
)

// Display chooses which replies Replies shows.
type Display string

// The display choices. DisplayDDL (the empty string) follows the action's
// DDL: "always" shows every reply, "ok" the successful ones, "failed" (the
// default) the others; an agent without a DDL shows all.
const (
	DisplayDDL    Display = ""
	DisplayOK     Display = "ok"
	DisplayFailed Display = "failed"
	DisplayAll    Display = "all"
	DisplayNone   Display = "none"
)

// ParseDisplay reads a --display value.
func ParseDisplay(s string) (Display, error) {
	switch d := Display(s); d {
	case DisplayDDL, DisplayOK, DisplayFailed, DisplayAll, DisplayNone:
		return d, nil
	case "always":
		return DisplayAll, nil
	}
	return "", fmt.Errorf("--display %q: want ok, failed, all or none", s)
}

// resolve turns DisplayDDL into the action's rule.
func (d Display) resolve(act *rpc.ActionDDL) Display {
	if d != DisplayDDL {
		return d
	}
	if act == nil {
		return DisplayAll
	}
	switch act.Display {
	case rpc.DisplayAlways:
		return DisplayAll
	case rpc.DisplayOK:
		return DisplayOK
	}
	return DisplayFailed
}

// Shows reports whether a reply with the given status is shown.
func (d Display) Shows(act *rpc.ActionDDL, code rpc.StatusCode) bool {
	switch d.resolve(act) {
	case DisplayAll:
		return true
	case DisplayOK:
		return code == rpc.StatusOK
	case DisplayFailed:
		return code != rpc.StatusOK
	}
	return false
}

// Replies writes the replies display shows, in the order given, as
// MCollective does: the sender and, for a failure, its status and
// message; for a success, each output by its display_as label, labels
// right-aligned, outputs sorted by name.
func Replies(w io.Writer, act *rpc.ActionDDL, replies []rpc.Received, display Display) error {
	var b strings.Builder
	for _, r := range replies {
		if !display.Shows(act, r.StatusCode) {
			continue
		}
		Reply(&b, act, r.Reply)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Reply writes one reply (see Replies) and a blank line.
func Reply(b *strings.Builder, act *rpc.ActionDDL, r *rpc.Reply) {
	if r.StatusCode != rpc.StatusOK {
		fmt.Fprintf(b, "%-40s %s\n", r.SenderID, r.StatusCode)
		if r.StatusMsg != "" && r.StatusMsg != r.StatusCode.String() {
			fmt.Fprintf(b, "   %s\n", r.StatusMsg)
		}
		b.WriteString("\n")
		return
	}
	b.WriteString(r.SenderID + "\n")
	keys := make([]string, 0, len(r.Data))
	width := 0
	label := func(k string) string {
		if act != nil {
			if o := act.Output[k]; o != nil && o.DisplayAs != "" {
				return o.DisplayAs
			}
		}
		return k
	}
	for k := range r.Data {
		keys = append(keys, k)
		width = max(width, utf8.RuneCountInString(label(k)))
	}
	slices.Sort(keys)
	for _, k := range keys {
		l := label(k)
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(l)+3)
		line := fmt.Sprintf("%s%s: %s", pad, l, indent(Value(r.Data[k]), len(pad)+utf8.RuneCountInString(l)+2))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString("\n")
}

// Value renders an output value: scalars as they are, lists of scalars
// comma separated, anything else as indented JSON.
func Value(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				return jsonIndent(v)
			}
			parts = append(parts, Value(e))
		}
		return strings.Join(parts, ", ")
	}
	return jsonIndent(v)
}

func jsonIndent(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// indent indents every line of s after the first by n spaces.
func indent(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// Summaries writes the aggregate summaries under "Summary of <label>:"
// headings: value counts for summary functions; the value, a sparkline
// of the distribution, and the minimum and maximum for numeric ones; a
// small line chart for "chart".
func Summaries(w io.Writer, sums []rpc.Summary) error {
	var b strings.Builder
	for _, s := range sums {
		fmt.Fprintf(&b, "Summary of %s:\n\n", s.DisplayAs)
		switch {
		case s.Err != "":
			fmt.Fprintf(&b, "   Could not compute summary: %s\n", s.Err)
		case s.Function == "chart":
			Plot(&b, PlotOptions{Values: s.Values, Kind: PlotLine, Width: 60, Height: 10, YLabel: "Nodes"})
		case s.Numeric():
			fmt.Fprintf(&b, "   %s   %s   min: %s max: %s\n", formatAggregate(s), Sparkline(Buckets(s.Values, 20)),
				Number(slices.Min(s.Values)), Number(slices.Max(s.Values)))
		case s.Function == "count":
			fmt.Fprintf(&b, "   Count: %d\n", int(s.Value))
		default:
			width := 0
			for _, c := range s.Counts {
				width = max(width, utf8.RuneCountInString(c.Value))
			}
			for _, c := range s.Counts {
				fmt.Fprintf(&b, "   %s%s = %d\n", strings.Repeat(" ", width-utf8.RuneCountInString(c.Value)), c.Value, c.Count)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatAggregate writes a numeric summary's value with the DDL's format,
// or "Average: 12.5".
func formatAggregate(s rpc.Summary) string {
	if s.Format != "" {
		if strings.Contains(s.Format, "%d") || strings.Contains(s.Format, "%i") {
			return fmt.Sprintf(strings.ReplaceAll(s.Format, "%i", "%d"), int64(math.Round(s.Value)))
		}
		return fmt.Sprintf(s.Format, s.Value)
	}
	name := map[string]string{"average": "Average", "sum": "Sum", "min": "Minimum", "max": "Maximum"}[s.Function]
	return name + ": " + Number(s.Value)
}

// Number writes a number briefly: integers as they are, others with two
// decimals, large ones with a k, m or g suffix (1.2k, 3.4m).
func Number(f float64) string {
	a := math.Abs(f)
	switch {
	case a >= 1e9:
		return strconv.FormatFloat(f/1e9, 'f', 1, 64) + "g"
	case a >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 1, 64) + "m"
	case a >= 1e4:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + "k"
	case f == math.Trunc(f):
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// Duration writes d as the statistics do: "82 ms" under 10 s, "12.35 s"
// after.
func Duration(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Stats writes the statistics line, "Finished processing 48 / 50 hosts
// in 82 ms" (the time from the first request sent to the last reply, as
// MCollective counts it: discovery is not included), then who did not answer, who answered unasked, and what a
// cancellation left unsent. verbose adds MCollective's block of counts
// and times.
func Stats(w io.Writer, st *rpc.Stats, verbose bool) error {
	var b strings.Builder
	asked := len(st.Targets) - len(st.NotSent)
	if verbose {
		b.WriteString("---- rpc stats ----\n")
		rows := [][2]string{
			{"Request ID", st.RequestID},
			{"Discovery", st.Method},
			{"Nodes", fmt.Sprintf("%d / %d", asked, st.Responded)},
			{"Pass / Fail", fmt.Sprintf("%d / %d", st.OK, st.Failed)},
			{"Batches", fmt.Sprintf("%d / %d", st.BatchesRun, st.Batches)},
			{"Start Time", st.Start.Format("2006-01-02 15:04:05 -0700")},
			{"Discovery Time", Duration(st.DiscoveryTime)},
			{"Publish Time", Duration(st.PublishTime)},
			{"Agent Time", Duration(st.RequestTime)},
			{"Total Time", Duration(st.TotalTime)},
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "%16s: %s\n", r[0], r[1])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Finished processing %d / %d hosts in %s\n", st.Responded, asked, Duration(st.RequestTime))
	list := func(title string, nodes []string) {
		if len(nodes) > 0 {
			b.WriteString("\n")
			b.WriteString(NameList(title, nodes, 78))
		}
	}
	list("No response from: ", st.NoResponse)
	list("Unexpected response from: ", st.Unexpected)
	if st.Cancelled {
		fmt.Fprintf(&b, "\nInterrupted after %d of %d batches.\n", st.BatchesRun, st.Batches)
		list("Not sent to: ", st.NotSent)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NameList writes title then names comma separated, wrapped at width
// under the first name.
func NameList(title string, names []string, width int) string {
	var b strings.Builder
	b.WriteString(title)
	col := utf8.RuneCountInString(title)
	lead := strings.Repeat(" ", col)
	for i, n := range names {
		item := n
		if i < len(names)-1 {
			item += ","
		}
		if i > 0 {
			if col+1+len(item) > width {
				b.WriteString("\n" + lead)
				col = len(lead)
			} else {
				b.WriteString(" ")
				col++
			}
		}
		b.WriteString(item)
		col += len(item)
	}
	b.WriteString("\n")
	return b.String()
}
