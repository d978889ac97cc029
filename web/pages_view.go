package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/translators"
)

// postView is a post as the templates show it. The JavaScript renders
// posts that arrive live from the same fields of the post's JSON.
type postView struct {
	ID            string
	Node          string
	NodeURL       string
	URL           string
	Severity      string
	SeverityLabel string
	Text          string
	Tags          []tagLink
	FoldNote      string
	ReplyURL      string
	// CauseURL is the post that asked for what this one reports (see
	// feed.Post.CausedBy), "" if none.
	CauseURL string
	Count    int
	Source   string
	EventID  string
	when
	// Role and Current are set on a thread page.
	Role    string
	Current bool
}

// when is a moment as pages show it: relative, with the absolute time on
// hover and in the datetime attribute.
type when struct {
	ISO, Absolute, Ago string
}

func newWhen(t, now time.Time) when {
	return when{ISO: t.UTC().Format(time.RFC3339), Absolute: absoluteTime(t), Ago: ago(t, now)}
}

type tagLink struct{ Name, URL string }

func tagLinks(tags []string) []tagLink {
	out := make([]tagLink, len(tags))
	for i, t := range tags {
		out[i] = tagLink{Name: t, URL: tagPath(t)}
	}
	return out
}

var severityLabels = map[translators.Severity]string{
	translators.SeverityOK:       "OK",
	translators.SeverityInfo:     "Info",
	translators.SeverityWarning:  "Warning",
	translators.SeverityCritical: "Critical",
}

func severityLabel(s translators.Severity) string {
	if l, ok := severityLabels[s]; ok {
		return l
	}
	return string(s)
}

func newPostView(p *feed.Post, now time.Time) postView {
	v := postView{
		ID:            feed.FormatID(p.ID),
		Node:          p.Node,
		NodeURL:       nodePath(p.Node),
		URL:           postPath(p.ID),
		Severity:      string(p.Severity),
		SeverityLabel: severityLabel(p.Severity),
		Text:          p.Text,
		Tags:          tagLinks(p.Tags),
		FoldNote:      p.FoldNote(),
		Count:         p.Count,
		Source:        p.Source,
		EventID:       p.EventID,
		when:          newWhen(p.CreatedAt, now),
	}
	if p.InReplyTo != 0 {
		v.ReplyURL = postPath(p.InReplyTo)
	}
	if p.CausedBy != 0 {
		v.CauseURL = postPath(p.CausedBy)
	}
	return v
}

// ago says how long before now t was, as app.js does.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	case d < 7*24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " d ago"
	}
	return t.UTC().Format("2 Jan 2006")
}

func absoluteTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// profileView is a server's profile page.
type profileView struct {
	Node        *nodes.Node
	DisplayName string
	HealthLabel string
	Location    string
	Roles       []tagLink
	LastSeen    *when
	Spark       sparkline
	Timeline    timelineView
	// Follow is the follow button for a signed-in user; Edit the
	// profile form for an administrator.
	Follow *followButton
	Edit   *profileForm
	// Actions are the RPCs an operator can run on the server.
	Actions *actionMenu
}

func newProfileView(n *nodes.Node, tl timelineView, perHour []int, end, now time.Time) profileView {
	v := profileView{
		Node:        n,
		DisplayName: displayName(n),
		HealthLabel: severityLabel(n.Health),
		Roles:       tagLinks(n.Roles),
		Spark:       newSparkline(perHour, end),
		Timeline:    tl,
	}
	if n.LastSeen != nil {
		w := newWhen(*n.LastSeen, now)
		v.LastSeen = &w
	}
	loc := n.Location.Datacenter
	if n.Location.Latitude != nil && n.Location.Longitude != nil {
		coords := fmt.Sprintf("%.4g, %.4g", *n.Location.Latitude, *n.Location.Longitude)
		if loc == "" {
			loc = coords
		} else {
			loc += " (" + coords + ")"
		}
	}
	v.Location = loc
	return v
}

// sparkline is a bar per hour, drawn as inline SVG by profile.html.
type sparkline struct {
	Width, Height int
	Bars          []sparkBar
	Caption       string
}

type sparkBar struct {
	X, Y, W, H int
	Count      int
	Label      string
}

const (
	sparkBarWidth = 10
	sparkHeight   = 48
)

// newSparkline draws counts, one per hour, the last hour ending at end.
func newSparkline(counts []int, end time.Time) sparkline {
	s := sparkline{Width: len(counts) * sparkBarWidth, Height: sparkHeight}
	peak, total, peakAt := 0, 0, 0
	for i, c := range counts {
		total += c
		if c > peak {
			peak, peakAt = c, i
		}
	}
	start := end.Add(-time.Duration(len(counts)) * time.Hour).UTC()
	span := func(i int) string {
		from := start.Add(time.Duration(i) * time.Hour)
		return from.Format("15:04") + "–" + from.Add(time.Hour).Format("15:04") + " UTC"
	}
	for i, c := range counts {
		h := 2 // an empty hour still shows as a stub on the base line
		if c > 0 {
			h = max(4, c*(sparkHeight-4)/peak)
		}
		s.Bars = append(s.Bars, sparkBar{
			X: i * sparkBarWidth, Y: sparkHeight - h, W: sparkBarWidth - 2, H: h, Count: c,
			Label: span(i) + ": " + plural(c, "post", "posts"),
		})
	}
	if total == 0 {
		s.Caption = "Posts per hour over the last day: none."
	} else {
		s.Caption = fmt.Sprintf("Posts per hour over the last day: %s in all, at most %s in one hour (%s).",
			strconv.Itoa(total), strconv.Itoa(peak), span(peakAt))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// threadView is a post's page: its thread and its details.
type threadView struct {
	Heading string
	Stream  string
	Since   string
	RootID  string
	Thread  []postView
	Post    postView
	// LastISO and LastAbsolute are when the last repeat happened.
	LastISO, LastAbsolute string
	Details               []detailRow
	// Actions are the RPCs an operator can run about the post.
	Actions *actionMenu
	// Caused are the posts the post asked for (see causedView).
	Caused causedView
}

func newThreadView(thread []*feed.Post, id int64, now time.Time) threadView {
	var v threadView
	var cur *feed.Post
	for i, p := range thread {
		pv := newPostView(p, now)
		if len(thread) > 1 {
			pv.Role = threadRole(p, i)
		}
		if p.ID == id {
			pv.Current, cur = true, p
			v.Post = pv
		}
		v.Thread = append(v.Thread, pv)
	}
	if cur == nil { // Thread always holds the post it was asked for
		cur = thread[0]
		v.Post = v.Thread[0]
	}
	root := thread[0]
	v.RootID = feed.FormatID(root.ID)
	v.Stream = "node:" + root.Node
	v.LastISO = cur.LastAt.UTC().Format(time.RFC3339)
	v.LastAbsolute = absoluteTime(cur.LastAt)
	v.Details = detailRows(cur.Details)
	if len(thread) > 1 {
		v.Heading = fmt.Sprintf("Thread on @%s: %s", root.Node, plural(len(thread), "post", "posts"))
	} else {
		v.Heading = "Post by @" + cur.Node
	}
	return v
}

// threadRole names a post's part in an incident: problem, acknowledgement,
// recovery.
func threadRole(p *feed.Post, i int) string {
	switch {
	case i == 0 && p.Severity.Rank() >= translators.SeverityWarning.Rank():
		return "Problem"
	case i == 0:
		return "First post"
	case slices.Contains(p.Tags, "acknowledged"):
		return "Acknowledgement"
	case p.Severity == translators.SeverityOK:
		return "Recovery"
	}
	return "Follow-up"
}

// detailRow is one field of a post's details: scalars as text, nested
// values as indented JSON in a block.
type detailRow struct {
	Key   string
	Value string
	Block bool
}

// detailRows turns a post's details JSON into rows, by key. Strings are
// shown as they are: the template escapes them.
func detailRows(raw json.RawMessage) []detailRow {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []detailRow{{Key: "details", Value: string(raw), Block: true}}
	}
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil
		}
		val, block := detailValue(v)
		return []detailRow{{Key: "details", Value: val, Block: block}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]detailRow, 0, len(keys))
	for _, k := range keys {
		val, block := detailValue(m[k])
		rows = append(rows, detailRow{Key: k, Value: val, Block: block})
	}
	return rows
}

func detailValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "null", false
	case string:
		return x, strings.Contains(x, "\n")
	case json.Number:
		return x.String(), false
	case bool:
		return strconv.FormatBool(x), false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the template escapes; show "<" as "<"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v), true
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}
