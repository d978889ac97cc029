-- The audit log of RPCs (package rpc: SQLiteAuditLog): one row per
-- request a client sent or tried to send, whoever asked (a person on the
-- web page, a rule, the CLI).
CREATE TABLE rpc_audit (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,             -- Unix milliseconds, when the call started
	caller      TEXT NOT NULL,                -- callerid on the wire, e.g. user=alice
	via         TEXT NOT NULL DEFAULT '',     -- who asked through the caller, e.g. rule=lb-after-httpd
	mode        TEXT NOT NULL,                -- sync (Do) or async (SendAsync)
	request_id  TEXT NOT NULL DEFAULT '',
	agent       TEXT NOT NULL,
	action      TEXT NOT NULL,
	data        TEXT NOT NULL DEFAULT '{}',   -- JSON object of the inputs
	filter      TEXT NOT NULL DEFAULT '{}',   -- JSON object of the filter
	targets     TEXT NOT NULL DEFAULT '[]',   -- JSON array of the nodes asked
	ok          INTEGER NOT NULL DEFAULT 0,
	failed      INTEGER NOT NULL DEFAULT 0,
	no_response INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rpc_audit_caller ON rpc_audit (caller, id);
