-- Nodes are servers. name is the handle shown as @name; aliases map every
-- name a source uses for the server (certname, FQDN, short name, IP, MAC).
CREATE TABLE nodes (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	bio          TEXT NOT NULL DEFAULT '',
	contact      TEXT NOT NULL DEFAULT '',
	datacenter   TEXT NOT NULL DEFAULT '',
	latitude     REAL,
	longitude    REAL,
	classes      TEXT NOT NULL DEFAULT '[]',
	facts        TEXT NOT NULL DEFAULT '{}',
	agents       TEXT NOT NULL DEFAULT '[]',
	health       TEXT NOT NULL DEFAULT '',
	last_seen    INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
);

CREATE TABLE node_aliases (
	alias   TEXT PRIMARY KEY,
	node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX node_aliases_node ON node_aliases (node_id);

-- Posts. id sorts by the time fleetfeed stored the post (milliseconds << 16
-- plus a sequence), so cursors are ids. text is the sentence without
-- hashtags; tags holds them in order, post_tags indexes them.
CREATE TABLE posts (
	id          INTEGER PRIMARY KEY,
	node_id     INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	source      TEXT NOT NULL,
	text        TEXT NOT NULL,
	tags        TEXT NOT NULL DEFAULT '[]',
	severity    TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	last_at     INTEGER NOT NULL,
	count       INTEGER NOT NULL DEFAULT 1,
	in_reply_to INTEGER REFERENCES posts (id) ON DELETE SET NULL,
	thread      TEXT NOT NULL DEFAULT '',
	fold_hash   INTEGER NOT NULL,
	event_id    TEXT NOT NULL DEFAULT '',
	details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX posts_node ON posts (node_id, id);
CREATE INDEX posts_reply ON posts (in_reply_to, id) WHERE in_reply_to IS NOT NULL;
CREATE INDEX posts_fold ON posts (fold_hash, id);

CREATE TABLE post_tags (
	tag     TEXT NOT NULL,
	post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	PRIMARY KEY (tag, post_id)
) WITHOUT ROWID;
CREATE INDEX post_tags_post ON post_tags (post_id);

-- Every event id ever ingested, for deduplication. A post names the event
-- that made it in posts.event_id.
CREATE TABLE events (
	id          TEXT PRIMARY KEY,
	received_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Open incidents: a thread key on a node whose problem has not ended.
-- flap_id is the post repeats fold into while the check is flapping.
CREATE TABLE incidents (
	node_id   INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	thread    TEXT NOT NULL,
	root_id   INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	severity  TEXT NOT NULL,
	flap_id   INTEGER REFERENCES posts (id) ON DELETE SET NULL,
	opened_at INTEGER NOT NULL,
	PRIMARY KEY (node_id, thread)
) WITHOUT ROWID;
