package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fleetfeed/feed"
	"fleetfeed/rpc"
)

// auditPageSize is how many calls the audit page shows at once.
const auditPageSize = 50

// auditLog is the RPC audit log in the server's database.
func (s *Server) auditLog() *rpc.SQLiteAuditLog {
	return &rpc.SQLiteAuditLog{DB: s.Pipeline.DB}
}

// auditQuery reads the page of the audit log a request asks for:
// ?before=<cursor>&limit=<n>&who=<text>&agent=<name>.
func auditQuery(r *http.Request, defaultLimit int) (rpc.AuditPage, error) {
	page := rpc.AuditPage{Limit: defaultLimit}
	q := r.URL.Query()
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return page, feed.Errorf(feed.EINVALID, "before must be a cursor from a previous page")
		}
		page.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > rpc.MaxPageSize {
			return page, feed.Errorf(feed.EINVALID, "limit must be between 1 and %d", rpc.MaxPageSize)
		}
		page.Limit = n
	}
	page.Who = strings.TrimSpace(q.Get("who"))
	page.Agent = strings.TrimSpace(q.Get("agent"))
	return page, nil
}

// handleAudit serves one page of the RPC audit log, newest first:
// ?before=<cursor>&limit=<n>, and optionally who=<text> (in the caller or
// via) and agent=<name>; the answer's "next" is the cursor of the next
// page (0 on the last), to be asked with the same filters.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	page, err := auditQuery(r, 0)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	entries, err := s.auditLog().List(r.Context(), page)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

// auditView is the audit page.
type auditView struct {
	Who, Agent string
	Filtered   bool
	Rows       []auditRow
	// Newest and Older link the first and the next page; JSON is this
	// page as the API gives it.
	Newest, Older, JSON string
}

// auditRow is one call as the audit page shows it.
type auditRow struct {
	ISO, When, Ago string
	// Who says who asked in words; As is the caller id the request
	// carried, when Who does not already say it.
	Who, As string
	What    string
	Inputs  string
	Where   string
	Async   bool
	Result  string
	Error   string
}

// handleAuditPage is /admin/audit: the RPC audit log for administrators,
// newest first, with the JSON API's cursor and filters.
func (s *Server) handleAuditPage(w http.ResponseWriter, r *http.Request) {
	page, err := auditQuery(r, auditPageSize)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	entries, err := s.auditLog().List(r.Context(), page)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	now := s.now()
	v := auditView{Who: page.Who, Agent: page.Agent, Filtered: page.Who != "" || page.Agent != ""}
	for _, e := range entries.Entries {
		v.Rows = append(v.Rows, newAuditRow(&e, now))
	}
	link := func(path string, before int64, limit int) string {
		q := url.Values{}
		if page.Who != "" {
			q.Set("who", page.Who)
		}
		if page.Agent != "" {
			q.Set("agent", page.Agent)
		}
		if before > 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	}
	limit := 0
	if page.Limit != auditPageSize {
		limit = page.Limit
	}
	if page.Before > 0 {
		v.Newest = link("/admin/audit", 0, limit)
	}
	if entries.Next > 0 {
		v.Older = link("/admin/audit", entries.Next, limit)
	}
	v.JSON = link("/api/v1/audit", page.Before, page.Limit)
	s.render(w, r, http.StatusOK, "admin_audit.html", pageData{
		Title:       "RPC audit",
		Description: "Every RPC sent to the servers: who asked, what, where, when and what came of it.",
		Section:     "audit",
		Body:        v,
	})
}

func newAuditRow(e *rpc.AuditEntry, now time.Time) auditRow {
	row := auditRow{
		ISO:    e.At.UTC().Format(time.RFC3339),
		When:   e.At.Local().Format("Mon 2 Jan 2006 15:04:05 MST"),
		Ago:    ago(e.At, now),
		Who:    auditWho(e.Caller, e.Via),
		What:   e.Agent + " " + e.Action,
		Inputs: auditInputs(e.Data),
		Where:  auditWhere(e.Filter, e.Targets),
		Async:  e.Mode == "async",
		Error:  e.Error,
	}
	if e.Via != "" {
		row.As = e.Caller
	}
	switch {
	case e.Error != "":
		row.Result = "the call failed:"
	case row.Async:
		row.Result = "sent; the answers come later, in the thread they belong to"
	case e.OK+e.Failed+e.NoResponse == 0:
		row.Result = "no server asked"
	default:
		var parts []string
		if e.OK > 0 {
			parts = append(parts, strconv.Itoa(e.OK)+" ok")
		}
		if e.Failed > 0 {
			parts = append(parts, strconv.Itoa(e.Failed)+" failed")
		}
		if e.NoResponse > 0 {
			parts = append(parts, strconv.Itoa(e.NoResponse)+" no answer")
		}
		row.Result = strings.Join(parts, ", ")
	}
	return row
}

// auditWho says in words who asked for a call: the person on the web page
// or the rule named by via ("user=alice", "rule=lb-after-httpd"), or,
// without a via, the CLI's caller.
func auditWho(caller, via string) string {
	kind, name, ok := strings.Cut(via, "=")
	switch {
	case via == "":
		if user, ok := strings.CutPrefix(caller, "user="); ok {
			return "CLI user " + user
		}
		return "CLI caller " + caller
	case ok && kind == "user":
		return name + " on the web page"
	case ok && kind == "rule":
		return "rule " + name
	}
	return via
}

// auditListMax is how many names or inputs a cell lists before it counts
// the rest.
const auditListMax = 5

// auditValueMax bounds one input's value on the page.
const auditValueMax = 80

// auditInputs are a call's data as "name=value", by name.
func auditInputs(data map[string]any) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		var v string
		switch x := data[k].(type) {
		case string:
			v = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				v = fmt.Sprint(x)
			} else {
				v = string(b)
			}
		}
		if utf8.RuneCountInString(v) > auditValueMax {
			v = string([]rune(v)[:auditValueMax-1]) + "…"
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, ", ")
}

// auditWhere says which servers a call went to: its filter, then the
// servers it asked, shortened with a count when there are many.
func auditWhere(f *rpc.Filter, targets []string) string {
	var parts []string
	if !f.Empty() {
		if len(f.Identity) > 0 {
			parts = append(parts, "identity "+shortList(f.Identity))
		}
		for _, c := range f.Class {
			parts = append(parts, "class "+c)
		}
		for _, ff := range f.Fact {
			parts = append(parts, "fact "+ff.Fact+ff.Operator+ff.Value)
		}
		for _, a := range f.Agent {
			parts = append(parts, "agent "+a)
		}
		for _, c := range f.Compound {
			parts = append(parts, "matching "+c)
		}
	}
	where := strings.Join(parts, " and ")
	switch {
	case len(targets) == 0 && where == "":
		return "no server"
	case len(targets) == 0:
		return where
	case where == "":
		return plural(len(targets), "server", "servers") + ": " + shortList(targets)
	}
	return where + " — " + plural(len(targets), "server", "servers") + ": " + shortList(targets)
}

// shortList joins names, the first few of them when there are many.
func shortList(names []string) string {
	if len(names) <= auditListMax {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:auditListMax-1], ", ") + fmt.Sprintf(" and %d more", len(names)-auditListMax+1)
}
