package rpc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"fleetfeed/feed"
)

// AuditEntry is the record of one call: who asked, what, where, when and
// what came of it.
type AuditEntry struct {
	// Seq orders the log; pages are cut by it.
	Seq int64 `json:"seq"`
	// At is when the call started.
	At time.Time `json:"at"`
	// Caller is the callerid the request carried; Via who asked through
	// it (Call.Via), if anyone said.
	Caller string `json:"caller"`
	Via    string `json:"via,omitempty"`
	// Mode is "sync" (Do) or "async" (SendAsync).
	Mode      string         `json:"mode"`
	RequestID string         `json:"requestid,omitempty"`
	Agent     string         `json:"agent"`
	Action    string         `json:"action"`
	Data      map[string]any `json:"data"`
	// Filter is the call's filter (nil if none); Targets the nodes asked.
	Filter  *Filter  `json:"filter"`
	Targets []string `json:"targets"`
	// OK, Failed and NoResponse count the nodes' answers (always 0 for
	// an asynchronous call, whose replies come later).
	OK         int `json:"ok"`
	Failed     int `json:"failed"`
	NoResponse int `json:"no_response"`
	// Error is why the call failed, "" if it did not.
	Error string `json:"error,omitempty"`
}

// Auditor records calls. The client calls Record once per Do or
// SendAsync, after the call, with the caller's context made uncancelled;
// an error is logged, it does not fail the call.
type Auditor interface {
	Record(ctx context.Context, e *AuditEntry) error
}

// auditTimeout bounds recording one entry.
const auditTimeout = 10 * time.Second

func (c *Client) record(ctx context.Context, e *AuditEntry) {
	if c.cfg.Audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := c.cfg.Audit.Record(ctx, e); err != nil {
		c.log.Error("audit record failed", "agent", e.Agent, "action", e.Action, "err", err)
	}
}

func (c *Client) newAuditEntry(start time.Time, mode string, call Call, err error) *AuditEntry {
	e := &AuditEntry{
		At: start.UTC(), Caller: c.cfg.CallerID, Via: call.Via, Mode: mode,
		Agent: call.Agent, Action: call.Action, Data: maps.Clone(call.Data), Filter: call.Filter,
	}
	if err != nil {
		e.Error = err.Error()
	}
	return e
}

func (c *Client) auditDo(ctx context.Context, start time.Time, call Call, res *Result, err error) {
	if c.cfg.Audit == nil {
		return
	}
	e := c.newAuditEntry(start, "sync", call, err)
	if res != nil {
		st := &res.Stats
		e.RequestID, e.Targets = st.RequestID, slices.Clone(st.Targets)
		e.OK, e.Failed, e.NoResponse = st.OK, st.Failed, len(st.NoResponse)
	} else if call.Targets != nil {
		e.Targets = slices.Clone(call.Targets)
	}
	c.record(ctx, e)
}

func (c *Client) auditAsync(ctx context.Context, start time.Time, call Call, id string, targets []string, err error) {
	if c.cfg.Audit == nil {
		return
	}
	e := c.newAuditEntry(start, "async", call, err)
	e.RequestID, e.Targets = id, slices.Clone(targets)
	c.record(ctx, e)
}

// AuditPage asks for the entries older than the cursor Before (0: from
// the newest), at most Limit of them (DefaultPageSize if 0, at most
// MaxPageSize). Who and Agent, when set, keep only the entries whose
// caller or via contains Who (ignoring ASCII case) and whose agent is
// Agent; the cursor of a filtered page goes on with the same filters.
type AuditPage struct {
	Before int64
	Limit  int
	Who    string
	Agent  string
}

// AuditEntries is one page of the audit log, newest first.
type AuditEntries struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the cursor of the next (older) page, 0 when this is the
	// last.
	Next int64 `json:"next"`
}

// SQLiteAuditLog is an Auditor in fleetfeed's database (table rpc_audit,
// migration 0004_actions.sql).
type SQLiteAuditLog struct {
	DB *feed.DB
}

var _ Auditor = (*SQLiteAuditLog)(nil)

// Record stores e.
func (l *SQLiteAuditLog) Record(ctx context.Context, e *AuditEntry) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("audit data: %w", err)
	}
	if e.Data == nil {
		data = []byte("{}")
	}
	filter := []byte("{}")
	if e.Filter != nil {
		if filter, err = json.Marshal(e.Filter); err != nil {
			return fmt.Errorf("audit filter: %w", err)
		}
	}
	targets, err := json.Marshal(nonNilStrings(e.Targets))
	if err != nil {
		return fmt.Errorf("audit targets: %w", err)
	}
	tx, err := l.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO rpc_audit
		(at, caller, via, mode, request_id, agent, action, data, filter, targets, ok, failed, no_response, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UnixMilli(), e.Caller, e.Via, e.Mode, e.RequestID, e.Agent, e.Action, string(data), string(filter),
		string(targets), e.OK, e.Failed, e.NoResponse, e.Error); err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// List returns one page of the log, newest first.
func (l *SQLiteAuditLog) List(ctx context.Context, page AuditPage) (*AuditEntries, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	before := page.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	tx, err := l.DB.SQL().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer tx.Rollback()
	where, args := "id < ?", []any{before}
	if page.Who != "" {
		// LIKE ignores ASCII case; the pattern's own wildcards are
		// escaped so that "a_b" means a_b.
		where += ` AND (caller LIKE ? ESCAPE '\' OR via LIKE ? ESCAPE '\')`
		pat := "%" + likeEscaper.Replace(page.Who) + "%"
		args = append(args, pat, pat)
	}
	if page.Agent != "" {
		where += " AND agent = ?"
		args = append(args, page.Agent)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, at, caller, via, mode, request_id, agent, action, data, filter,
		targets, ok, failed, no_response, error FROM rpc_audit WHERE `+where+` ORDER BY id DESC LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := &AuditEntries{Entries: []AuditEntry{}}
	for rows.Next() {
		var (
			e                     AuditEntry
			at                    int64
			data, filter, targets string
		)
		if err := rows.Scan(&e.Seq, &at, &e.Caller, &e.Via, &e.Mode, &e.RequestID, &e.Agent, &e.Action,
			&data, &filter, &targets, &e.OK, &e.Failed, &e.NoResponse, &e.Error); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return nil, fmt.Errorf("audit %d data: %w", e.Seq, err)
		}
		if filter != "{}" {
			if err := json.Unmarshal([]byte(filter), &e.Filter); err != nil {
				return nil, fmt.Errorf("audit %d filter: %w", e.Seq, err)
			}
		}
		if err := json.Unmarshal([]byte(targets), &e.Targets); err != nil {
			return nil, fmt.Errorf("audit %d targets: %w", e.Seq, err)
		}
		out.Entries = append(out.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	if len(out.Entries) > limit {
		out.Entries = out.Entries[:limit]
		out.Next = out.Entries[limit-1].Seq
	}
	return out, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// AuditTotals sum up the audit log: calls, and the answers of the nodes
// asked.
type AuditTotals struct {
	// Last is the Seq of the newest entry counted (0 for none).
	Last int64
	// Calls are the entries; Errors those that failed as a whole
	// (Error set); Async those sent asynchronously.
	Calls, Errors, Async int64
	// OK, Failed and NoResponse sum the entries' counts of answers.
	OK, Failed, NoResponse int64
}

// Add adds the totals of entries after t.Last, as Totals returns them.
func (t *AuditTotals) Add(more AuditTotals) {
	if more.Last > t.Last {
		t.Last = more.Last
	}
	t.Calls += more.Calls
	t.Errors += more.Errors
	t.Async += more.Async
	t.OK += more.OK
	t.Failed += more.Failed
	t.NoResponse += more.NoResponse
}

// Totals sums the entries whose Seq is greater than after. The log only
// grows, so a caller that keeps a running sum asks for what came after
// its Last and adds it, and reads each entry once.
func (l *SQLiteAuditLog) Totals(ctx context.Context, after int64) (AuditTotals, error) {
	var t AuditTotals
	tx, err := l.DB.SQL().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return t, fmt.Errorf("audit totals: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0), count(*),
		coalesce(sum(error != ''), 0), coalesce(sum(mode = 'async'), 0),
		coalesce(sum(ok), 0), coalesce(sum(failed), 0), coalesce(sum(no_response), 0)
		FROM rpc_audit WHERE id > ?`, after).Scan(&t.Last, &t.Calls, &t.Errors, &t.Async, &t.OK, &t.Failed, &t.NoResponse); err != nil {
		return t, fmt.Errorf("audit totals: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return t, fmt.Errorf("audit totals: %w", err)
	}
	if t.Last == 0 {
		t.Last = after
	}
	return t, nil
}
