-- Asynchronous RPC requests and the replies a listener stored for them
-- (package rpc: SQLiteReplyStore). A reply may name a request that was
-- sent by a client without this store: there is no foreign key.
CREATE TABLE rpc_requests (
	id      TEXT PRIMARY KEY,            -- the request id (32 hex digits)
	agent   TEXT NOT NULL,
	action  TEXT NOT NULL,
	caller  TEXT NOT NULL,               -- callerid, e.g. user=alice
	targets TEXT NOT NULL DEFAULT '[]',  -- JSON array of identities
	created INTEGER NOT NULL,            -- Unix milliseconds
	ttl     INTEGER NOT NULL             -- seconds
) WITHOUT ROWID;

-- id orders replies as they were stored; pages are cut by it.
CREATE TABLE rpc_replies (
	id         INTEGER PRIMARY KEY,
	request_id TEXT NOT NULL,
	sender     TEXT NOT NULL,
	statuscode INTEGER NOT NULL,
	statusmsg  TEXT NOT NULL,
	data       TEXT NOT NULL DEFAULT '{}', -- JSON object of the outputs
	received   INTEGER NOT NULL,           -- Unix milliseconds
	UNIQUE (request_id, sender)
);
CREATE INDEX rpc_replies_request ON rpc_replies (request_id, id);
