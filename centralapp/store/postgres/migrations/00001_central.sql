-- +goose Up
-- Times are timestamptz (microseconds, UTC); NULL means unset. Addresses
-- are inet, which orders as netip.Addr.Compare does: IPv4 before IPv6,
-- then numerically. Identifiers that callers see sorted use COLLATE "C",
-- so order is bytewise whatever the database's locale.

CREATE TABLE members (
	id        text COLLATE "C" PRIMARY KEY,
	name      text NOT NULL,
	sector    text NOT NULL,
	region    text NOT NULL,
	time_zone text NOT NULL,
	created   timestamptz NOT NULL
);

CREATE TABLE enrol_tokens (
	hash      bytea PRIMARY KEY,
	member_id text COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created   timestamptz NOT NULL,
	expires   timestamptz NOT NULL,
	used      timestamptz
);

CREATE TABLE collectors (
	id             text COLLATE "C" PRIMARY KEY,
	member_id      text COLLATE "C" NOT NULL REFERENCES members (id),
	cert_serial    text NOT NULL,
	cert_not_after timestamptz NOT NULL,
	created        timestamptz NOT NULL,
	revoked        timestamptz,
	last_seen      timestamptz
);
CREATE INDEX collectors_member ON collectors (member_id);

CREATE TABLE accounts (
	name          text COLLATE "C" PRIMARY KEY,
	role          text NOT NULL CHECK (role IN ('admin', 'analyst', 'member')),
	member_id     text COLLATE "C" REFERENCES members (id),
	password_hash text NOT NULL,
	created       timestamptz NOT NULL,
	CHECK ((role = 'member') = (member_id IS NOT NULL))
);

CREATE TABLE api_tokens (
	hash    bytea PRIMARY KEY,
	account text COLLATE "C" NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
	created timestamptz NOT NULL,
	expires timestamptz NOT NULL
);
CREATE INDEX api_tokens_account ON api_tokens (account);

-- One row per accepted batch. The primary key is the dedupe (INSERT ... ON
-- CONFLICT DO NOTHING); the row counts make Counts and retention's tally a
-- sum over this table, a thousandth of the rows. Not partitioned: a unique
-- key on a partitioned table must hold the partition key, and a resent
-- batch gets a new received time.
CREATE TABLE batches (
	collector_id text COLLATE "C" NOT NULL REFERENCES collectors (id),
	batch_id     text COLLATE "C" NOT NULL,
	member_id    text COLLATE "C" NOT NULL,
	seq          bigint NOT NULL,
	created      timestamptz NOT NULL,
	received     timestamptz NOT NULL,
	detections   integer NOT NULL,
	summaries    integer NOT NULL,
	PRIMARY KEY (collector_id, batch_id)
);
CREATE INDEX batches_received ON batches (received);
CREATE INDEX batches_member ON batches (member_id);

-- Ids come from sequences, which never hand a value out twice; ingest takes
-- them under one lock until commit, so they also rise in commit order and
-- keyset paging never skips a row committed late (see ingest.go).
CREATE SEQUENCE detection_ids;
CREATE SEQUENCE summary_ids;

-- Detections and summaries are partitioned by month of received time
-- (central's clock): retention drops whole months. Partitions are made by
-- the store as months come (partitions.go). Timestamps carry BRIN indexes,
-- a few pages per month: received follows insertion exactly, and last_seen
-- and minute nearly. No foreign keys: the batch row checks the collector
-- once per batch.
CREATE TABLE detections (
	id               bigint NOT NULL DEFAULT nextval('detection_ids'),
	member_id        text COLLATE "C" NOT NULL,
	collector_id     text COLLATE "C" NOT NULL,
	batch_id         text COLLATE "C" NOT NULL,
	rule_id          text COLLATE "C" NOT NULL CHECK (rule_id <> ''),
	rule_name        text NOT NULL CHECK (rule_name <> ''),
	severity         smallint NOT NULL CHECK (severity BETWEEN 1 AND 100),
	techniques       text[] COLLATE "C" NOT NULL,
	source_ip        inet,
	destination_ip   inet,
	destination_port integer CHECK (destination_port BETWEEN 1 AND 65535),
	related_ips      inet[],
	distinct_sources integer NOT NULL CHECK (distinct_sources >= 0),
	count            bigint NOT NULL CHECK (count >= 1),
	first_seen       timestamptz NOT NULL,
	last_seen        timestamptz NOT NULL CHECK (last_seen >= first_seen),
	received         timestamptz NOT NULL,
	raw              bytea NOT NULL CHECK (length(raw) > 0),
	PRIMARY KEY (id, received)
) PARTITION BY RANGE (received);
ALTER SEQUENCE detection_ids OWNED BY detections.id;
-- Member views and export page a member's rows by id.
CREATE INDEX detections_member_id ON detections (member_id, id);
CREATE INDEX detections_last_seen ON detections USING brin (last_seen);
CREATE INDEX detections_received ON detections USING brin (received);

CREATE TABLE summaries (
	id               bigint NOT NULL DEFAULT nextval('summary_ids'),
	member_id        text COLLATE "C" NOT NULL,
	collector_id     text COLLATE "C" NOT NULL,
	minute           timestamptz NOT NULL,
	source_ip        inet NOT NULL,
	destination_port integer NOT NULL CHECK (destination_port BETWEEN 0 AND 65535),
	transport        text NOT NULL,
	event_type       text NOT NULL,
	device           text NOT NULL,
	dataset          text NOT NULL,
	count            bigint NOT NULL CHECK (count >= 1),
	destination      text NOT NULL,
	received         timestamptz NOT NULL,
	PRIMARY KEY (id, received)
) PARTITION BY RANGE (received);
ALTER SEQUENCE summary_ids OWNED BY summaries.id;
CREATE INDEX summaries_member_id ON summaries (member_id, id);
CREATE INDEX summaries_minute ON summaries USING brin (minute);
CREATE INDEX summaries_received ON summaries USING brin (received);

-- Hourly rollups of detections per member, rule and source (by last seen),
-- kept by ingest in the batch's transaction, for reports and the
-- dashboard. A detection about no one source rolls up under a NULL source.
CREATE TABLE detection_rollups (
	hour       timestamptz NOT NULL,
	member_id  text COLLATE "C" NOT NULL,
	rule_id    text COLLATE "C" NOT NULL,
	source_ip  inet,
	detections bigint NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	UNIQUE NULLS NOT DISTINCT (hour, member_id, rule_id, source_ip)
);
CREATE INDEX detection_rollups_member_hour ON detection_rollups (member_id, hour);

CREATE TABLE collector_health (
	collector_id text COLLATE "C" PRIMARY KEY REFERENCES collectors (id),
	time         timestamptz NOT NULL,
	health       bytea NOT NULL -- detect.Health as JSON
);

CREATE TABLE device_health (
	collector_id text COLLATE "C" NOT NULL REFERENCES collectors (id),
	device       text COLLATE "C" NOT NULL,
	dataset      text NOT NULL,
	last_seen    timestamptz NOT NULL,
	PRIMARY KEY (collector_id, device)
);

CREATE TABLE campaigns (
	id         text COLLATE "C" PRIMARY KEY,
	source_ip  inet NOT NULL,
	members    text[] COLLATE "C" NOT NULL,
	techniques text[] COLLATE "C" NOT NULL,
	ports      integer[] NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	updated    timestamptz NOT NULL
);
CREATE INDEX campaigns_last_seen ON campaigns (last_seen);
CREATE INDEX campaigns_members ON campaigns USING gin (members);

CREATE TABLE releases (
	kind    text NOT NULL,
	version bigint NOT NULL,
	payload bytea NOT NULL,
	created timestamptz NOT NULL,
	PRIMARY KEY (kind, version)
);

CREATE TABLE reports (
	id           text COLLATE "C" PRIMARY KEY,
	member_id    text COLLATE "C" NOT NULL, -- '' for cross-member reports
	kind         text NOT NULL,
	period_start timestamptz NOT NULL,
	period_end   timestamptz NOT NULL,
	created      timestamptz NOT NULL,
	html         bytea,
	pdf          bytea
);
CREATE INDEX reports_member_created ON reports (member_id, created);

-- +goose Down
DROP TABLE reports;
DROP TABLE releases;
DROP TABLE campaigns;
DROP TABLE device_health;
DROP TABLE collector_health;
DROP TABLE detection_rollups;
DROP TABLE summaries;
DROP TABLE detections;
DROP TABLE batches;
DROP TABLE api_tokens;
DROP TABLE accounts;
DROP TABLE collectors;
DROP TABLE enrol_tokens;
DROP TABLE members;
