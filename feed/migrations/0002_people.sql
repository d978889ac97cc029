-- People: accounts, sessions, follows, lists, search, e-mail.

-- Users sign in to read and act. password is an argon2id PHC string
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash). feed_token is the SHA-256 of
-- the user's private feed token, NULL when there is none.
CREATE TABLE users (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
	password    TEXT NOT NULL,
	role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
	email       TEXT NOT NULL DEFAULT '',
	feed_token  BLOB UNIQUE,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

-- Sessions are stored by the SHA-256 of their token, so a copy of the
-- database does not sign anyone in. csrf is the session's CSRF secret.
CREATE TABLE sessions (
	token      BLOB PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Keys the server signs with (unsubscribe links), made on first use.
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- What a user follows: servers, hashtags, lists.
CREATE TABLE follow_nodes (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, node_id)
) WITHOUT ROWID;
CREATE INDEX follow_nodes_node ON follow_nodes (node_id);

CREATE TABLE follow_tags (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	tag        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, tag)
) WITHOUT ROWID;

-- Lists are named sets of servers and tag queries, owned by a user,
-- readable by others when public. Members need not be followed.
CREATE TABLE lists (
	id         INTEGER PRIMARY KEY,
	owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	public     INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	UNIQUE (owner_id, name)
);

CREATE TABLE list_nodes (
	list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
	node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	PRIMARY KEY (list_id, node_id)
) WITHOUT ROWID;
CREATE INDEX list_nodes_node ON list_nodes (node_id);

CREATE TABLE list_queries (
	list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
	query   TEXT NOT NULL,
	PRIMARY KEY (list_id, query)
) WITHOUT ROWID;

CREATE TABLE follow_lists (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	list_id    INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, list_id)
) WITHOUT ROWID;
CREATE INDEX follow_lists_list ON follow_lists (list_id);

-- Full-text search. FTS4, not FTS5: mattn/go-sqlite3 compiles FTS3/4 in by
-- default and FTS5 only with the sqlite_fts5 build tag. Both tables are
-- external-content: they index the rows of posts and nodes without a copy
-- of their text. '_' is part of a word so that frontend_web is one term,
-- as the hashtag is.
--
-- Posts are indexed in batches, not by an insert trigger: FTS flushes its
-- pending terms at every statement savepoint, so a trigger costs ~25 µs a
-- post and halves ingest, while one INSERT … SELECT of a batch costs ~5 µs
-- a post. search_index.last_post is the newest post indexed; the timeline
-- package indexes the posts after it before each search and from a
-- background loop (Reader.IndexPending). Post ids only grow, so every post
-- above last_post is unindexed and every post at or below it is indexed;
-- the delete and update triggers touch only the latter.
CREATE VIRTUAL TABLE posts_fts USING fts4 (content="posts", text, tags, tokenize=unicode61 "tokenchars=_");
CREATE VIRTUAL TABLE nodes_fts USING fts4 (content="nodes", name, display_name, bio, tokenize=unicode61 "tokenchars=_");

CREATE TABLE search_index (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	last_post INTEGER NOT NULL
);

CREATE TRIGGER posts_fts_delete BEFORE DELETE ON posts
WHEN old.id <= (SELECT last_post FROM search_index) BEGIN
	DELETE FROM posts_fts WHERE docid = old.id;
END;
CREATE TRIGGER posts_fts_before_update BEFORE UPDATE OF text, tags ON posts
WHEN old.id <= (SELECT last_post FROM search_index) BEGIN
	DELETE FROM posts_fts WHERE docid = old.id;
END;
CREATE TRIGGER posts_fts_after_update AFTER UPDATE OF text, tags ON posts
WHEN new.id <= (SELECT last_post FROM search_index) BEGIN
	INSERT INTO posts_fts (docid, text, tags) VALUES (new.id, new.text, new.tags);
END;

-- Servers change seldom: their index follows by triggers.
CREATE TRIGGER nodes_fts_insert AFTER INSERT ON nodes BEGIN
	INSERT INTO nodes_fts (docid, name, display_name, bio) VALUES (new.id, new.name, new.display_name, new.bio);
END;
CREATE TRIGGER nodes_fts_delete BEFORE DELETE ON nodes BEGIN
	DELETE FROM nodes_fts WHERE docid = old.id;
END;
CREATE TRIGGER nodes_fts_before_update BEFORE UPDATE OF name, display_name, bio ON nodes BEGIN
	DELETE FROM nodes_fts WHERE docid = old.id;
END;
CREATE TRIGGER nodes_fts_after_update AFTER UPDATE OF name, display_name, bio ON nodes BEGIN
	INSERT INTO nodes_fts (docid, name, display_name, bio) VALUES (new.id, new.name, new.display_name, new.bio);
END;

-- Index what was stored before this migration.
INSERT INTO posts_fts (posts_fts) VALUES ('rebuild');
INSERT INTO nodes_fts (nodes_fts) VALUES ('rebuild');
INSERT INTO search_index (id, last_post) SELECT 1, COALESCE(MAX(id), 0) FROM posts;

-- E-mail. mail_settings has at most one row (id 1): the SMTP relay.
CREATE TABLE mail_settings (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	host     TEXT NOT NULL DEFAULT '',
	port     INTEGER NOT NULL DEFAULT 587,
	username TEXT NOT NULL DEFAULT '',
	password TEXT NOT NULL DEFAULT '',
	sender   TEXT NOT NULL DEFAULT '',
	security TEXT NOT NULL DEFAULT 'starttls' CHECK (security IN ('starttls', 'tls', 'none'))
);

-- What each user wants by e-mail. last_digest is when the last digest
-- period ended (ms), so the next one starts there.
CREATE TABLE mail_prefs (
	user_id     INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	critical    INTEGER NOT NULL DEFAULT 0,
	digest      INTEGER NOT NULL DEFAULT 0,
	last_digest INTEGER NOT NULL DEFAULT 0
);

-- Mail waiting to be sent, sent, or given up on. The notifier writes rows;
-- the sender sends those due, and records each attempt's error, so that
-- administrators can see why mail does not arrive. post_id keeps one
-- critical mail per user and post.
CREATE TABLE outbox (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	post_id    INTEGER,
	recipient  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	message    BLOB NOT NULL,
	status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	next_at    INTEGER NOT NULL,
	sent_at    INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_at);
CREATE UNIQUE INDEX outbox_post ON outbox (user_id, kind, post_id) WHERE post_id IS NOT NULL;
