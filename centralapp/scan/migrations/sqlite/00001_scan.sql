-- +goose Up
-- Times are INTEGER nanoseconds since 1970 UTC; 0 means unset.

CREATE TABLE targets (
	id        TEXT PRIMARY KEY,
	member_id TEXT NOT NULL,
	kind      TEXT NOT NULL CHECK (kind IN ('domain', 'range')),
	value     TEXT NOT NULL,
	token     TEXT NOT NULL,
	created   INTEGER NOT NULL,
	proven_by TEXT NOT NULL DEFAULT '',
	proven    INTEGER NOT NULL DEFAULT 0,
	expires   INTEGER NOT NULL DEFAULT 0,
	UNIQUE (member_id, kind, value)
) STRICT;

CREATE TABLE proofs (
	id        INTEGER PRIMARY KEY,
	target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
	method    TEXT NOT NULL,
	by        TEXT NOT NULL,
	checked   INTEGER NOT NULL,
	ok        INTEGER NOT NULL,
	detail    TEXT NOT NULL,
	expires   INTEGER NOT NULL
) STRICT;
CREATE INDEX proofs_target ON proofs (target_id, id);

CREATE TABLE approvals (
	id        INTEGER PRIMARY KEY,
	target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
	by        TEXT NOT NULL,
	at        INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	note      TEXT NOT NULL
) STRICT;

CREATE TABLE runs (
	id        TEXT PRIMARY KEY,
	member_id TEXT NOT NULL,
	by        TEXT NOT NULL,
	started   INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0,
	status    TEXT NOT NULL,
	notes     TEXT NOT NULL DEFAULT '',
	probes    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX runs_member ON runs (member_id, started);

-- A finding's columns are what queries need; data is the whole Finding
-- as JSON.
CREATE TABLE findings (
	run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	key      TEXT NOT NULL,
	kind     TEXT NOT NULL,
	severity INTEGER NOT NULL,
	cve      TEXT NOT NULL,
	data     TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
) STRICT;

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	run_id    TEXT NOT NULL,
	member_id TEXT NOT NULL,
	by        TEXT NOT NULL,
	probe     TEXT NOT NULL,
	host      TEXT NOT NULL,
	addr      TEXT NOT NULL,
	port      INTEGER NOT NULL,
	detail    TEXT NOT NULL,
	started   INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0,
	result    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_member ON audit (member_id, id);
CREATE INDEX audit_run ON audit (run_id, id);

CREATE TABLE schedules (
	member_id TEXT PRIMARY KEY,
	every     INTEGER NOT NULL,
	next      INTEGER NOT NULL,
	by        TEXT NOT NULL,
	updated   INTEGER NOT NULL
) STRICT;

-- One row at most: the durable kill switch.
CREATE TABLE kill_switch (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	on_ INTEGER NOT NULL,
	by  TEXT NOT NULL,
	at  INTEGER NOT NULL,
	why TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE kill_switch;
DROP TABLE schedules;
DROP TABLE audit;
DROP TABLE findings;
DROP TABLE runs;
DROP TABLE approvals;
DROP TABLE proofs;
DROP TABLE targets;
