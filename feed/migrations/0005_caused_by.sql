-- What caused a post: an operator's action or a rule asked a server to
-- run Puppet, and the report of that run names the post that asked for
-- it in caused_by. NULL for a post nobody asked for.
ALTER TABLE posts ADD COLUMN caused_by INTEGER REFERENCES posts (id) ON DELETE SET NULL;
CREATE INDEX posts_caused_by ON posts (caused_by, id) WHERE caused_by IS NOT NULL;

-- Expectations: a post that asked node_id to do something (run Puppet)
-- waits for the node's next new post from source. The first such post
-- stored after the thing was asked for (from, less a little clock skew)
-- and before expires_at takes caused_by = cause_id and deletes the row.
-- Rows past expires_at are deleted unused.
CREATE TABLE expectations (
	id         INTEGER PRIMARY KEY,
	node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	source     TEXT NOT NULL,
	cause_id   INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	from_at    INTEGER NOT NULL, -- Unix milliseconds, when it was asked for
	expires_at INTEGER NOT NULL  -- Unix milliseconds
);
CREATE INDEX expectations_node ON expectations (node_id, source, id);
CREATE INDEX expectations_cause ON expectations (cause_id);
CREATE INDEX expectations_expiry ON expectations (expires_at);
