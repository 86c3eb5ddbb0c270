-- +goose Up
-- Times are INTEGER nanoseconds since 1970 UTC; 0 or NULL means unset.
-- Addresses are 16-byte BLOBs (netip.Addr.As16): fixed width, so they
-- compare, sort and group by memcmp.

CREATE TABLE members (
	id        TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	sector    TEXT NOT NULL,
	region    TEXT NOT NULL,
	time_zone TEXT NOT NULL,
	created   INTEGER NOT NULL
) STRICT;

CREATE TABLE enrol_tokens (
	hash      BLOB PRIMARY KEY,
	member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created   INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	used      INTEGER
) STRICT;

CREATE TABLE collectors (
	id             TEXT PRIMARY KEY,
	member_id      TEXT NOT NULL REFERENCES members (id),
	cert_serial    TEXT NOT NULL,
	cert_not_after INTEGER NOT NULL,
	created        INTEGER NOT NULL,
	revoked        INTEGER,
	last_seen      INTEGER
) STRICT;
CREATE INDEX collectors_member ON collectors (member_id);

CREATE TABLE accounts (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'member')),
	member_id     TEXT REFERENCES members (id),
	password_hash TEXT NOT NULL,
	created       INTEGER NOT NULL,
	CHECK ((role = 'member') = (member_id IS NOT NULL))
) STRICT;

CREATE TABLE api_tokens (
	hash    BLOB PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL
) STRICT;
CREATE INDEX api_tokens_account ON api_tokens (account);

-- One row per accepted batch: the dedupe key is the primary key. The id
-- ranges of its detections and summaries (NULL when it has none) let
-- retention delete by rowid range, so those tables need no index on
-- received.
CREATE TABLE batches (
	collector_id TEXT NOT NULL REFERENCES collectors (id),
	batch_id     TEXT NOT NULL,
	member_id    TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	received     INTEGER NOT NULL,
	detections   INTEGER NOT NULL,
	summaries    INTEGER NOT NULL,
	det_first    INTEGER,
	det_last     INTEGER,
	sum_first    INTEGER,
	sum_last     INTEGER,
	PRIMARY KEY (collector_id, batch_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX batches_received ON batches (received);
CREATE INDEX batches_member ON batches (member_id);

-- detections and summaries carry no foreign keys: the batch row checks the
-- collector once, and per-row checks would cost ingest.
-- AUTOINCREMENT: ids never come back, even after retention empties the
-- table, so keyset paging and batch id ranges stay sound.
CREATE TABLE detections (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	member_id        TEXT NOT NULL,
	collector_id     TEXT NOT NULL,
	batch_id         TEXT NOT NULL,
	rule_id          TEXT NOT NULL CHECK (rule_id <> ''),
	rule_name        TEXT NOT NULL CHECK (rule_name <> ''),
	severity         INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 100),
	techniques       TEXT NOT NULL, -- comma-joined; ids hold no comma
	source_ip        BLOB,
	destination_ip   BLOB,
	destination_port INTEGER,
	related_ips      BLOB, -- 16 bytes per address
	distinct_sources INTEGER NOT NULL,
	count            INTEGER NOT NULL CHECK (count >= 1),
	first_seen       INTEGER NOT NULL CHECK (first_seen <> 0),
	last_seen        INTEGER NOT NULL CHECK (last_seen >= first_seen),
	received         INTEGER NOT NULL,
	raw              BLOB NOT NULL CHECK (length(raw) > 0)
) STRICT;
CREATE INDEX detections_member_last_seen ON detections (member_id, last_seen);
-- Both indexes lead with time or member then time, so ingest appends to
-- them. An index led by source_ip would serve grouping by source without a
-- sort, but every batch scatters inserts across it, and measured ingest of
-- detections ran about three times slower with it. The time index covers
-- what SourceActivity and SourceMembers read, so aggregating a window never
-- reads the wide rows (raw is most of a row).
CREATE INDEX detections_last_seen ON detections
	(last_seen, source_ip, member_id, techniques, destination_port, count, first_seen);

CREATE TABLE summaries (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	member_id        TEXT NOT NULL,
	collector_id     TEXT NOT NULL,
	minute           INTEGER NOT NULL CHECK (minute <> 0),
	source_ip        BLOB NOT NULL CHECK (length(source_ip) = 16),
	destination_port INTEGER NOT NULL,
	transport        TEXT NOT NULL,
	event_type       TEXT NOT NULL,
	device           TEXT NOT NULL,
	dataset          TEXT NOT NULL,
	count            INTEGER NOT NULL CHECK (count >= 1),
	destination      TEXT NOT NULL,
	received         INTEGER NOT NULL
) STRICT;
CREATE INDEX summaries_member_minute ON summaries (member_id, minute);
CREATE INDEX summaries_minute ON summaries (minute);

CREATE TABLE collector_health (
	collector_id TEXT PRIMARY KEY REFERENCES collectors (id),
	time         INTEGER NOT NULL,
	health       BLOB NOT NULL -- detect.Health as JSON
) STRICT;

CREATE TABLE device_health (
	collector_id TEXT NOT NULL REFERENCES collectors (id),
	device       TEXT NOT NULL,
	dataset      TEXT NOT NULL,
	last_seen    INTEGER NOT NULL,
	PRIMARY KEY (collector_id, device)
) STRICT, WITHOUT ROWID;

CREATE TABLE campaigns (
	id         TEXT PRIMARY KEY,
	source_ip  BLOB NOT NULL,
	members    TEXT NOT NULL,
	techniques TEXT NOT NULL,
	ports      TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	updated    INTEGER NOT NULL
) STRICT;
CREATE INDEX campaigns_last_seen ON campaigns (last_seen);

CREATE TABLE campaign_members (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	member_id   TEXT NOT NULL,
	PRIMARY KEY (member_id, campaign_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX campaign_members_campaign ON campaign_members (campaign_id);

CREATE TABLE releases (
	kind    TEXT NOT NULL,
	version INTEGER NOT NULL,
	payload BLOB NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (kind, version)
) STRICT;

CREATE TABLE reports (
	id           TEXT PRIMARY KEY,
	member_id    TEXT NOT NULL, -- '' for cross-member reports
	kind         TEXT NOT NULL,
	period_start INTEGER NOT NULL,
	period_end   INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	html         BLOB,
	pdf          BLOB
) STRICT;
CREATE INDEX reports_member_created ON reports (member_id, created);

-- +goose Down
DROP TABLE reports;
DROP TABLE releases;
DROP TABLE campaign_members;
DROP TABLE campaigns;
DROP TABLE device_health;
DROP TABLE collector_health;
DROP TABLE summaries;
DROP TABLE detections;
DROP TABLE batches;
DROP TABLE api_tokens;
DROP TABLE accounts;
DROP TABLE collectors;
DROP TABLE enrol_tokens;
DROP TABLE members;
