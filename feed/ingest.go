package feed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"fleetfeed/translators"
)

// DefaultFoldWindow is how long a repeat folds into an earlier post instead
// of becoming a post of its own.
const DefaultFoldWindow = time.Hour

// Pipeline stores translated events as posts: it drops events already
// stored (by event id), resolves the node every name belongs to, threads
// replies onto the incidents they belong to, folds repeats, links a new
// post to the post that asked for it (see Expect), and, once the batch has
// committed, tells the hub.
type Pipeline struct {
	DB  *DB
	Hub *Hub
	// FoldWindow is how long repeats fold; DefaultFoldWindow if zero.
	FoldWindow time.Duration

	// One writer at a time: SQLite has one, and the id sequence and
	// incident state read inside a batch must not interleave.
	mu sync.Mutex

	stats   Stats
	folds   *foldIndex
	expects *expectIndex
}

// Stats are the pipeline's counters since it started.
type Stats struct {
	Events     int64 `json:"events"`
	Duplicates int64 `json:"duplicates"`
	Posts      int64 `json:"posts"`
	Folds      int64 `json:"folds"`
}

// Stats returns a copy of the pipeline's counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// IngestResult says what one batch did.
type IngestResult struct {
	// Events is the number of events in the batch.
	Events int `json:"events"`
	// Duplicates were already stored and were skipped.
	Duplicates int `json:"duplicates"`
	// Posts are the ids of new posts; Folded the ids of earlier posts
	// whose count grew.
	Posts  []int64 `json:"-"`
	Folded []int64 `json:"-"`
	// Quiet events made no post (an unchanged Puppet run) but updated
	// their node.
	Quiet int `json:"quiet"`
}

// MarshalJSON writes ids as strings, like posts do.
func (r *IngestResult) MarshalJSON() ([]byte, error) {
	type plain IngestResult
	ids := func(in []int64) []string {
		out := make([]string, len(in))
		for i, id := range in {
			out[i] = FormatID(id)
		}
		return out
	}
	return json.Marshal(struct {
		*plain
		Posts  []string `json:"posts"`
		Folded []string `json:"folded"`
	}{(*plain)(r), ids(r.Posts), ids(r.Folded)})
}

// Ingest stores a batch of events in one transaction: all of it or, on
// error, none of it. Notices go to the hub after the commit.
func (p *Pipeline) Ingest(ctx context.Context, evs []translators.Event) (*IngestResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	res := &IngestResult{Events: len(evs)}
	if len(evs) == 0 {
		return res, nil
	}
	b, err := p.begin(ctx)
	if err != nil {
		return nil, err
	}
	if p.folds == nil {
		if err := p.loadFolds(ctx, b.now, b.window); err != nil {
			b.close()
			return nil, err
		}
	}
	if p.expects == nil {
		if err := p.loadExpects(ctx, b.now); err != nil {
			b.close()
			return nil, err
		}
	}
	defer b.close()
	if err := b.loadSeen(ctx, evs); err != nil {
		return nil, err
	}
	for i := range evs {
		if err := b.ingest(ctx, &evs[i], res); err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", i+1, evs[i].ID, err)
		}
	}
	if err := b.pruneExpects(ctx); err != nil {
		return nil, err
	}
	if err := b.flushNodes(ctx); err != nil {
		return nil, err
	}
	if err := b.flushEvents(ctx); err != nil {
		return nil, err
	}
	if err := b.tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	p.folds.apply(b.staged, b.now, b.window)
	b.applyExpects()
	p.stats.Events += int64(res.Events)
	p.stats.Duplicates += int64(res.Duplicates)
	p.stats.Posts += int64(len(res.Posts))
	p.stats.Folds += int64(len(res.Folded))
	if p.Hub != nil {
		for _, n := range b.notices {
			p.Hub.Publish(n)
		}
	}
	return res, nil
}

// batch is one Ingest call's transaction and what it has learned.
type batch struct {
	p       *Pipeline
	tx      *sql.Tx
	now     time.Time
	window  time.Duration
	stmts   map[string]*sql.Stmt
	nodes   map[string]*nodeRef // by alias
	touched map[int64]*nodeRef
	notices []Notice

	// seen holds the batch's event ids already stored or met earlier in
	// the batch; newEvents the ids to record at the end.
	seen      map[string]bool
	newEvents []string
	// incidents caches each node's open incidents, by thread, once read.
	incidents map[int64]map[string]*incident
	// staged holds the fold index's changes until the commit.
	staged map[int64]foldEntry
	// used holds the expectations the batch's posts fulfilled, by id;
	// prunedExpects says it deleted those run out.
	used          map[int64]expectKey
	prunedExpects bool
}

type nodeRef struct {
	id       int64
	name     string
	classes  []string
	roles    []string
	lastSeen time.Time
	health   translators.Severity
	dirty    bool // classes changed
}

func (p *Pipeline) begin(ctx context.Context) (*batch, error) {
	tx, err := p.DB.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	w := p.FoldWindow
	if w <= 0 {
		w = DefaultFoldWindow
	}
	return &batch{
		p: p, tx: tx, now: p.DB.Now(), window: w,
		stmts:     map[string]*sql.Stmt{},
		nodes:     map[string]*nodeRef{},
		touched:   map[int64]*nodeRef{},
		seen:      map[string]bool{},
		incidents: map[int64]map[string]*incident{},
		staged:    map[int64]foldEntry{},
	}, nil
}

func (b *batch) close() {
	for _, s := range b.stmts {
		s.Close()
	}
	b.tx.Rollback()
}

// stmt returns a statement prepared once per batch.
func (b *batch) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := b.stmts[query]; ok {
		return s, nil
	}
	s, err := b.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = s
	return s, nil
}

func (b *batch) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (b *batch) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	s, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryRowContext(ctx, args...), nil
}

func (b *batch) ingest(ctx context.Context, ev *translators.Event, res *IngestResult) error {
	if strings.TrimSpace(ev.ID) == "" {
		return Errorf(EINVALID, "event has no id")
	}
	if b.seen[ev.ID] {
		res.Duplicates++
		return nil
	}
	b.seen[ev.ID] = true
	b.newEvents = append(b.newEvents, ev.ID)
	node, err := b.resolve(ctx, ev)
	if err != nil {
		return err
	}
	at := ev.Time
	if at.IsZero() || at.After(b.now.Add(time.Hour)) {
		// A clock far ahead would pin the post to the top: trust ours.
		at = b.now
	}
	if at.After(node.lastSeen) {
		node.lastSeen = at
	}
	if ev.Health != "" {
		node.health = ev.Health
	}
	b.touched[node.id] = node
	if ev.Post == nil {
		res.Quiet++
		return nil
	}
	postID, folded, err := b.place(ctx, ev, node, at)
	if err != nil {
		return err
	}
	if postID == 0 {
		res.Quiet++
		return nil
	}
	if folded {
		res.Folded = append(res.Folded, postID)
	} else {
		res.Posts = append(res.Posts, postID)
	}
	return nil
}

// incident is an open incident row.
type incident struct {
	rootID   int64
	flapID   int64
	severity translators.Severity
}

// place stores the event's draft as a new post, a reply, or a fold into an
// existing post, and returns the post's id and whether it folded; id 0 when
// the draft only ends incidents and there is none open.
func (b *batch) place(ctx context.Context, ev *translators.Event, node *nodeRef, at time.Time) (int64, bool, error) {
	d := ev.Post
	if !d.Severity.Valid() {
		return 0, false, Errorf(EINVALID, "event %s: severity %q", ev.ID, d.Severity)
	}
	text := strings.TrimSpace(d.Text)
	if text == "" {
		return 0, false, Errorf(EINVALID, "event %s: post has no text", ev.ID)
	}
	tags := postTags(text, d.Tags, node.roles)
	hash := foldHash(node.id, d.Thread, d.Severity, text)

	var inc *incident
	if d.Thread != "" {
		var err error
		if inc, err = b.incident(ctx, node.id, d.Thread); err != nil {
			return 0, false, err
		}
	}
	if d.OnlyIfOpen && inc == nil {
		return 0, false, nil
	}
	flapDraft := d.Flapping || contains(d.Tags, "flapping")

	// While a check flaps, everything it says folds into the flapping
	// post until the flapping ends.
	if inc != nil && inc.flapID != 0 && !flapDraft {
		return inc.flapID, true, b.fold(ctx, inc.flapID, at)
	}
	if !d.Closes {
		if id, ok, err := b.foldCandidate(ctx, hash, node.id, d, text, at, inc); err != nil {
			return 0, false, err
		} else if ok {
			return id, true, b.fold(ctx, id, at)
		}
	}
	var replyTo int64
	if inc != nil {
		replyTo = inc.rootID
	}
	if d.ReplyTo != 0 {
		replyTo = d.ReplyTo
	}
	id, err := b.insertPost(ctx, ev, node, text, tags, hash, at, replyTo)
	if err != nil {
		return 0, false, err
	}
	switch {
	case d.Thread == "":
	case d.Closes && inc != nil:
		if _, err := b.exec(ctx, `DELETE FROM incidents WHERE node_id = ? AND thread = ?`, node.id, d.Thread); err != nil {
			return 0, false, fmt.Errorf("close incident: %w", err)
		}
		delete(b.incidents[node.id], d.Thread)
	case d.Opens && inc == nil:
		var flap any
		if d.Flapping {
			flap = id
		}
		if _, err := b.exec(ctx, `INSERT INTO incidents (node_id, thread, root_id, severity, flap_id, opened_at) VALUES (?, ?, ?, ?, ?, ?)`,
			node.id, d.Thread, id, string(d.Severity), flap, at.UnixMilli()); err != nil {
			return 0, false, fmt.Errorf("open incident: %w", err)
		}
		b.incidents[node.id][d.Thread] = &incident{rootID: id, flapID: flapID(flap), severity: d.Severity}
	case inc != nil && (d.Flapping || (d.Opens && d.Severity.Rank() > inc.severity.Rank())):
		// Flapping starts inside an incident, or the problem got worse.
		var flap any
		if d.Flapping {
			flap = id
		}
		sev := inc.severity
		if d.Severity.Rank() > sev.Rank() {
			sev = d.Severity
		}
		if _, err := b.exec(ctx, `UPDATE incidents SET severity = ?, flap_id = COALESCE(?, flap_id) WHERE node_id = ? AND thread = ?`,
			string(sev), flap, node.id, d.Thread); err != nil {
			return 0, false, fmt.Errorf("update incident: %w", err)
		}
		inc.severity = sev
		if d.Flapping {
			inc.flapID = id
		}
	}
	return id, false, nil
}

func (b *batch) incident(ctx context.Context, nodeID int64, thread string) (*incident, error) {
	open, ok := b.incidents[nodeID]
	if !ok {
		s, err := b.stmt(ctx, `SELECT thread, root_id, COALESCE(flap_id, 0), severity FROM incidents WHERE node_id = ?`)
		if err != nil {
			return nil, err
		}
		rows, err := s.QueryContext(ctx, nodeID)
		if err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		defer rows.Close()
		open = map[string]*incident{}
		for rows.Next() {
			var (
				inc      incident
				key, sev string
			)
			if err := rows.Scan(&key, &inc.rootID, &inc.flapID, &sev); err != nil {
				return nil, fmt.Errorf("read incident: %w", err)
			}
			inc.severity = translators.Severity(sev)
			open[key] = &inc
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		b.incidents[nodeID] = open
	}
	return open[thread], nil
}

// foldCandidate finds the post a repeat folds into: the newest post with the
// same node, thread, severity and sentence within the fold window; inside an
// open incident, only a post of that incident. A problem that opens a new
// incident never folds into an older, ended one.
func (b *batch) foldCandidate(ctx context.Context, hash int64, nodeID int64, d *translators.Draft, text string, at time.Time, inc *incident) (int64, bool, error) {
	if d.Opens && inc == nil {
		return 0, false, nil
	}
	if e, found, known := b.lookupFold(hash, at); known {
		switch {
		case !found || e.nodeID != nodeID || e.lastAt < at.Add(-b.window).UnixMilli():
			return 0, false, nil
		case inc != nil && e.id != inc.rootID && e.replyTo != inc.rootID:
			return 0, false, nil
		}
		return e.id, true, nil
	}
	row, err := b.queryRow(ctx, `SELECT id, node_id, thread, severity, text, COALESCE(in_reply_to, 0) FROM posts
		WHERE fold_hash = ? AND last_at >= ? ORDER BY id DESC LIMIT 1`, hash, at.Add(-b.window).UnixMilli())
	if err != nil {
		return 0, false, err
	}
	var (
		id, nid, reply int64
		thread, sev, t string
	)
	switch err := row.Scan(&id, &nid, &thread, &sev, &t, &reply); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("find repeat: %w", err)
	}
	if nid != nodeID || thread != d.Thread || sev != string(d.Severity) || t != text {
		return 0, false, nil
	}
	if inc != nil && id != inc.rootID && reply != inc.rootID {
		return 0, false, nil
	}
	return id, true, nil
}

func (b *batch) fold(ctx context.Context, id int64, at time.Time) error {
	if _, err := b.exec(ctx, `UPDATE posts SET count = count + 1, last_at = MAX(last_at, ?) WHERE id = ?`, at.UnixMilli(), id); err != nil {
		return fmt.Errorf("fold: %w", err)
	}
	if err := b.notice(ctx, NoticeCount, id); err != nil {
		return err
	}
	// The notice read the post back: index its new last_at.
	for i := len(b.notices) - 1; i >= 0; i-- {
		if p := b.notices[i].Post; p.ID == id {
			h := foldHash(p.NodeID, p.Thread, p.Severity, p.Text)
			b.staged[h] = foldEntry{id: id, nodeID: p.NodeID, replyTo: p.InReplyTo, lastAt: p.LastAt.UnixMilli()}
			break
		}
	}
	return nil
}

func (b *batch) insertPost(ctx context.Context, ev *translators.Event, node *nodeRef, text string, tags []string, hash int64, at time.Time, replyTo int64) (int64, error) {
	details := []byte("{}")
	if len(ev.Post.Details) > 0 {
		var err error
		if details, err = json.Marshal(ev.Post.Details); err != nil {
			return 0, Errorf(EINVALID, "event %s: details are not JSON: %v", ev.ID, err)
		}
	}
	tagJSON, _ := json.Marshal(tags)
	id := b.p.DB.nextID()
	var reply any
	if replyTo != 0 {
		reply = replyTo
	}
	source := ev.Source
	if source == "" {
		source = translators.SourceEvents
	}
	causedBy, err := b.cause(ctx, node.id, source, at)
	if err != nil {
		return 0, err
	}
	var cause any
	if causedBy != 0 {
		cause = causedBy
	}
	if _, err := b.exec(ctx, `INSERT INTO posts (id, node_id, source, text, tags, severity, created_at, last_at, count, in_reply_to, thread, fold_hash, event_id, details, caused_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`,
		id, node.id, source, text, string(tagJSON), string(ev.Post.Severity), at.UnixMilli(), at.UnixMilli(),
		reply, ev.Post.Thread, hash, ev.ID, string(details), cause); err != nil {
		return 0, fmt.Errorf("insert post: %w", err)
	}
	b.staged[hash] = foldEntry{id: id, nodeID: node.id, replyTo: replyTo, lastAt: at.UnixMilli()}
	if len(tags) > 0 {
		args := make([]any, 0, 2*len(tags))
		for _, t := range tags {
			args = append(args, t, id)
		}
		q := `INSERT OR IGNORE INTO post_tags (tag, post_id) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(tags)), ", ")
		if _, err := b.exec(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("insert tags: %w", err)
		}
	}
	b.notices = append(b.notices, Notice{Kind: NoticeUpdate, Post: &Post{
		ID: id, Node: node.name, NodeID: node.id, Text: text, Tags: tags,
		Severity: ev.Post.Severity, Source: source, CreatedAt: at.UTC(), LastAt: at.UTC(),
		Count: 1, InReplyTo: replyTo, Thread: ev.Post.Thread, EventID: ev.ID, Details: details, CausedBy: causedBy,
	}})
	return id, nil
}

// notice queues a count notice with the post as it will be after commit.
func (b *batch) notice(ctx context.Context, kind string, id int64) error {
	s, err := b.stmt(ctx, `SELECT `+PostColumns+` FROM `+PostFrom+` WHERE p.id = ?`)
	if err != nil {
		return err
	}
	p, err := ScanPost(s.QueryRowContext(ctx, id))
	if err != nil {
		return fmt.Errorf("read folded post: %w", err)
	}
	// A post folded twice in one batch is announced once, with its final count.
	for i := range b.notices {
		if b.notices[i].Post.ID == id {
			if b.notices[i].Kind == NoticeUpdate {
				b.notices[i].Post = p
			} else {
				b.notices[i] = Notice{Kind: kind, Post: p}
			}
			return nil
		}
	}
	b.notices = append(b.notices, Notice{Kind: kind, Post: p})
	return nil
}

// postTags is the draft's tags followed by the node's role tags, without
// repeats, as many role tags as fit in MaxSentence.
func postTags(text string, draft, roles []string) []string {
	var tags []string
	seen := map[string]bool{}
	n := utf8.RuneCountInString(text)
	add := func(t string, must bool) {
		t = translators.Tag(t)
		if t == "" || seen[t] {
			return
		}
		l := utf8.RuneCountInString(t) + 2
		if !must && n+l > translators.MaxSentence {
			return
		}
		seen[t] = true
		tags = append(tags, t)
		n += l
	}
	for _, t := range draft {
		add(t, true)
	}
	for _, t := range roles {
		add(t, false)
	}
	return tags
}

func foldHash(nodeID int64, thread string, sev translators.Severity, text string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s", nodeID, thread, sev, text)
	return int64(h.Sum64() >> 1)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func flapID(v any) int64 {
	if id, ok := v.(int64); ok {
		return id
	}
	return 0
}

// eventChunk bounds the ids in one statement (SQLite allows 32766
// variables).
const eventChunk = 500

// loadSeen finds which of the batch's event ids are already stored.
func (b *batch) loadSeen(ctx context.Context, evs []translators.Event) error {
	ids := make([]any, 0, len(evs))
	for i := range evs {
		ids = append(ids, evs[i].ID)
	}
	for len(ids) > 0 {
		n := min(len(ids), eventChunk)
		q := `SELECT id FROM events WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?,", n), ",") + `)`
		s, err := b.stmt(ctx, q)
		if err != nil {
			return err
		}
		rows, err := s.QueryContext(ctx, ids[:n]...)
		if err != nil {
			return fmt.Errorf("find duplicates: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("find duplicates: %w", err)
			}
			b.seen[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("find duplicates: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// flushEvents records the batch's new event ids.
func (b *batch) flushEvents(ctx context.Context) error {
	ids := b.newEvents
	at := b.now.UnixMilli()
	for len(ids) > 0 {
		n := min(len(ids), eventChunk)
		args := make([]any, 0, 2*n)
		for _, id := range ids[:n] {
			args = append(args, id, at)
		}
		q := `INSERT INTO events (id, received_at) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
		if _, err := b.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("record events: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}
