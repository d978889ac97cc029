package feed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultExpectWindow is how long an Expectation without Until waits: a
// Puppet run's splay (30 seconds unless the request says otherwise), a
// slow catalog run and the report's way back, with room to spare.
const DefaultExpectWindow = 10 * time.Minute

// expectSkew is how long before an expectation was made a post may say
// it happened and still be what was asked for: the server's clock and
// ours differ a little. A run that began well before anyone asked for it
// was not caused by the asking.
const expectSkew = 2 * time.Minute

// Expectation says that the post Cause asked a server to do something
// that the server will tell in a post of its own: an operator's action or
// a rule asked it to run Puppet, and the run's report will come in as a
// Puppet post. The first new post from Node and Source stored before
// Until (and about the time of asking or later) is linked to Cause: its
// CausedBy is Cause, the cause's page lists it, and the expectation is
// used up. A repeat that folds into an earlier post, a duplicate event and
// an event that makes no post (an unchanged Puppet run) leave it waiting.
type Expectation struct {
	// Node is any name of the server: its RPC identity, certname, FQDN,
	// short name or another alias. A name no server has yet makes one,
	// as the report would.
	Node string
	// Source is the source of the post expected, e.g.
	// translators.SourcePuppet.
	Source string
	// Cause is the id of the post that asked.
	Cause int64
	// Until is when to stop waiting; zero waits DefaultExpectWindow.
	Until time.Time
}

// Expect records expectations (see Expectation) in one transaction: all
// or, on error, none. Call it as soon as the servers have said yes (an RPC
// reply with status OK), before their reports can arrive. It also deletes
// the expectations that ran out unused.
//
// It returns an EINVALID error for an expectation without a node, source
// or cause, or one that ends before now, and an ENOTFOUND error when the
// cause post does not exist.
func (p *Pipeline) Expect(ctx context.Context, exps ...Expectation) error {
	if len(exps) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.DB.Now()
	if p.expects == nil {
		if err := p.loadExpects(ctx, now); err != nil {
			return err
		}
	}
	tx, err := p.DB.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM expectations WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
		return fmt.Errorf("delete expired expectations: %w", err)
	}
	type added struct {
		k expectKey
		e expectEntry
	}
	var adds []added
	for _, x := range exps {
		k, e, err := insertExpectation(ctx, tx, x, now)
		if err != nil {
			return err
		}
		adds = append(adds, added{k, e})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	p.expects.prune(now.UnixMilli())
	for _, a := range adds {
		p.expects.add(a.k, a.e)
	}
	return nil
}

func insertExpectation(ctx context.Context, tx *sql.Tx, x Expectation, now time.Time) (expectKey, expectEntry, error) {
	name := NormalizeName(x.Node)
	source := strings.TrimSpace(x.Source)
	until := x.Until
	if until.IsZero() {
		until = now.Add(DefaultExpectWindow)
	}
	switch {
	case name == "" || len(name) > 255:
		return expectKey{}, expectEntry{}, Errorf(EINVALID, "expectation: node name %q", x.Node)
	case source == "":
		return expectKey{}, expectEntry{}, Errorf(EINVALID, "expectation for %s names no source", name)
	case x.Cause <= 0:
		return expectKey{}, expectEntry{}, Errorf(EINVALID, "expectation for %s names no cause", name)
	case !until.After(now):
		return expectKey{}, expectEntry{}, Errorf(EINVALID, "expectation for %s ends before it starts", name)
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE id = ?)`, x.Cause).Scan(&exists); err != nil {
		return expectKey{}, expectEntry{}, fmt.Errorf("find cause post: %w", err)
	}
	if !exists {
		return expectKey{}, expectEntry{}, Errorf(ENOTFOUND, "no post %d", x.Cause)
	}
	var nodeID int64
	switch err := tx.QueryRowContext(ctx, `SELECT node_id FROM node_aliases WHERE alias = ?`, name).Scan(&nodeID); {
	case errors.Is(err, sql.ErrNoRows):
		if nodeID, _, err = CreateNode(ctx, tx, name, now); err != nil {
			return expectKey{}, expectEntry{}, err
		}
	case err != nil:
		return expectKey{}, expectEntry{}, fmt.Errorf("look up node %q: %w", name, err)
	}
	e := expectEntry{cause: x.Cause, from: now.UnixMilli(), until: until.UnixMilli()}
	r, err := tx.ExecContext(ctx, `INSERT INTO expectations (node_id, source, cause_id, from_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		nodeID, source, e.cause, e.from, e.until)
	if err != nil {
		return expectKey{}, expectEntry{}, fmt.Errorf("add expectation: %w", err)
	}
	if e.id, err = r.LastInsertId(); err != nil {
		return expectKey{}, expectEntry{}, err
	}
	return expectKey{nodeID: nodeID, source: source}, e, nil
}

// Expecting returns the expectations of the post cause still waiting,
// each with Node the server's handle, by handle: whose reports have not
// come in yet.
func (db *DB) Expecting(ctx context.Context, cause int64) ([]Expectation, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT n.name, e.source, e.expires_at FROM expectations e JOIN nodes n ON n.id = e.node_id
		WHERE e.cause_id = ? AND e.expires_at > ? ORDER BY n.name, e.id`, cause, db.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("expectations of %d: %w", cause, err)
	}
	defer rows.Close()
	var out []Expectation
	for rows.Next() {
		x := Expectation{Cause: cause}
		var until int64
		if err := rows.Scan(&x.Node, &x.Source, &until); err != nil {
			return nil, fmt.Errorf("expectations of %d: %w", cause, err)
		}
		x.Until = time.UnixMilli(until).UTC()
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expectations of %d: %w", cause, err)
	}
	return out, nil
}

// expectIndex holds every waiting expectation in memory, so that ingest
// asks the database only when a post can take one: with none waiting, a
// post costs one length check. As with the fold index, only the pipeline
// writes expectations, under its mutex; a batch's changes are applied
// after its commit.
type expectIndex struct {
	byKey map[expectKey][]expectEntry // oldest first
	// soonest is the earliest expiry in byKey (Unix ms), 0 when empty.
	soonest int64
}

type expectKey struct {
	nodeID int64
	source string
}

type expectEntry struct {
	id, cause   int64
	from, until int64 // Unix ms
}

// loadExpects reads the expectations still waiting.
func (p *Pipeline) loadExpects(ctx context.Context, now time.Time) error {
	rows, err := p.DB.db.QueryContext(ctx, `SELECT id, node_id, source, cause_id, from_at, expires_at FROM expectations
		WHERE expires_at > ? ORDER BY id`, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("load expectations: %w", err)
	}
	defer rows.Close()
	idx := &expectIndex{byKey: map[expectKey][]expectEntry{}}
	for rows.Next() {
		var (
			k expectKey
			e expectEntry
		)
		if err := rows.Scan(&e.id, &k.nodeID, &k.source, &e.cause, &e.from, &e.until); err != nil {
			return fmt.Errorf("load expectations: %w", err)
		}
		idx.add(k, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load expectations: %w", err)
	}
	p.expects = idx
	return nil
}

func (idx *expectIndex) add(k expectKey, e expectEntry) {
	idx.byKey[k] = append(idx.byKey[k], e)
	if idx.soonest == 0 || e.until < idx.soonest {
		idx.soonest = e.until
	}
}

// expired reports whether some expectation has run out at now (Unix ms).
func (idx *expectIndex) expired(now int64) bool {
	return idx.soonest != 0 && idx.soonest <= now
}

// prune forgets the expectations run out at now (Unix ms) and those in
// used, and works out the next expiry.
func (idx *expectIndex) prune(now int64, used ...map[int64]expectKey) {
	idx.soonest = 0
	for k, list := range idx.byKey {
		kept := list[:0]
		for _, e := range list {
			if e.until <= now || isUsed(used, e.id) {
				continue
			}
			kept = append(kept, e)
			if idx.soonest == 0 || e.until < idx.soonest {
				idx.soonest = e.until
			}
		}
		if len(kept) == 0 {
			delete(idx.byKey, k)
		} else {
			idx.byKey[k] = kept
		}
	}
}

func isUsed(used []map[int64]expectKey, id int64) bool {
	for _, m := range used {
		if _, ok := m[id]; ok {
			return true
		}
	}
	return false
}

// cause finds the expectation a new post from nodeID and source that
// happened at fulfils, deletes it inside the batch, and returns its
// cause; 0 when none waits.
func (b *batch) cause(ctx context.Context, nodeID int64, source string, at time.Time) (int64, error) {
	idx := b.p.expects
	if len(idx.byKey) == 0 {
		return 0, nil
	}
	list := idx.byKey[expectKey{nodeID: nodeID, source: source}]
	if len(list) == 0 {
		return 0, nil
	}
	now, atMS := b.now.UnixMilli(), at.UnixMilli()
	for _, e := range list {
		if _, used := b.used[e.id]; used || e.until <= now || atMS < e.from-expectSkew.Milliseconds() {
			continue
		}
		if b.used == nil {
			b.used = map[int64]expectKey{}
		}
		b.used[e.id] = expectKey{nodeID: nodeID, source: source}
		r, err := b.exec(ctx, `DELETE FROM expectations WHERE id = ?`, e.id)
		if err != nil {
			return 0, fmt.Errorf("take expectation: %w", err)
		}
		// A row gone already went with its cause post or its node
		// (ON DELETE CASCADE): forget it and look further.
		if n, err := r.RowsAffected(); err != nil {
			return 0, fmt.Errorf("take expectation: %w", err)
		} else if n == 1 {
			return e.cause, nil
		}
	}
	return 0, nil
}

// pruneExpects deletes, inside the batch, the expectations that ran out,
// when some did since the last time.
func (b *batch) pruneExpects(ctx context.Context) error {
	if !b.p.expects.expired(b.now.UnixMilli()) {
		return nil
	}
	if _, err := b.exec(ctx, `DELETE FROM expectations WHERE expires_at <= ?`, b.now.UnixMilli()); err != nil {
		return fmt.Errorf("delete expired expectations: %w", err)
	}
	b.prunedExpects = true
	return nil
}

// applyExpects updates the index once the batch has committed.
func (b *batch) applyExpects() {
	if b.used == nil && !b.prunedExpects {
		return
	}
	b.p.expects.prune(b.now.UnixMilli(), b.used)
}
