-- +goose Up
-- The scan store in a database central's store may share: every table is
-- prefixed scan_. Unset times are NULL.

CREATE TABLE scan_targets (
	id        text COLLATE "C" PRIMARY KEY,
	member_id text COLLATE "C" NOT NULL,
	kind      text NOT NULL CHECK (kind IN ('domain', 'range')),
	value     text COLLATE "C" NOT NULL,
	token     text NOT NULL,
	created   timestamptz NOT NULL,
	proven_by text NOT NULL DEFAULT '',
	proven    timestamptz,
	expires   timestamptz,
	UNIQUE (member_id, kind, value)
);

CREATE TABLE scan_proofs (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	target_id text COLLATE "C" NOT NULL REFERENCES scan_targets (id) ON DELETE CASCADE,
	method    text NOT NULL,
	by        text NOT NULL,
	checked   timestamptz NOT NULL,
	ok        boolean NOT NULL,
	detail    text NOT NULL,
	expires   timestamptz
);
CREATE INDEX scan_proofs_target ON scan_proofs (target_id, id);

CREATE TABLE scan_approvals (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	target_id text COLLATE "C" NOT NULL REFERENCES scan_targets (id) ON DELETE CASCADE,
	by        text NOT NULL,
	at        timestamptz NOT NULL,
	expires   timestamptz,
	note      text NOT NULL
);
CREATE INDEX scan_approvals_target ON scan_approvals (target_id);

CREATE TABLE scan_runs (
	id        text COLLATE "C" PRIMARY KEY,
	member_id text COLLATE "C" NOT NULL,
	by        text NOT NULL,
	started   timestamptz NOT NULL,
	finished  timestamptz,
	status    text NOT NULL,
	notes     text[] NOT NULL DEFAULT '{}',
	probes    bigint NOT NULL DEFAULT 0
);
CREATE INDEX scan_runs_member ON scan_runs (member_id, started DESC, id DESC);

-- A finding's columns are what queries need; data is the whole Finding.
CREATE TABLE scan_findings (
	run_id   text COLLATE "C" NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
	seq      integer NOT NULL,
	key      text NOT NULL,
	kind     text NOT NULL,
	severity smallint NOT NULL,
	cve      text NOT NULL,
	data     jsonb NOT NULL,
	PRIMARY KEY (run_id, seq)
);

-- Every node appends here: ids come from one sequence, so "newest first"
-- holds across nodes.
CREATE TABLE scan_audit (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id    text COLLATE "C" NOT NULL,
	member_id text COLLATE "C" NOT NULL,
	by        text NOT NULL,
	probe     text NOT NULL,
	host      text NOT NULL,
	addr      inet,
	port      integer NOT NULL,
	detail    text NOT NULL,
	started   timestamptz,
	finished  timestamptz,
	result    text NOT NULL DEFAULT ''
);
CREATE INDEX scan_audit_member ON scan_audit (member_id, id);
CREATE INDEX scan_audit_run ON scan_audit (run_id, id);

CREATE TABLE scan_schedules (
	member_id text COLLATE "C" PRIMARY KEY,
	every_ns  bigint NOT NULL,
	next      timestamptz NOT NULL,
	by        text NOT NULL,
	updated   timestamptz NOT NULL
);

-- One row at most: the durable kill switch that every node's running
-- scans poll.
CREATE TABLE scan_kill_switch (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	on_ boolean NOT NULL,
	by  text NOT NULL,
	at  timestamptz,
	why text NOT NULL
);

-- +goose Down
DROP TABLE scan_kill_switch;
DROP TABLE scan_schedules;
DROP TABLE scan_audit;
DROP TABLE scan_findings;
DROP TABLE scan_runs;
DROP TABLE scan_approvals;
DROP TABLE scan_proofs;
DROP TABLE scan_targets;
