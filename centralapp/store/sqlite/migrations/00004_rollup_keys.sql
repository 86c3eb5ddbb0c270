-- +goose Up
-- Rollups keyed by all that reports group and filter by (store.Rollup),
-- so a report counts from them instead of reading every detection. The
-- old rollups are dropped and the mark reset: the next read rolls every
-- detection up again (rollups.go), decoding samples as reports do.
-- source_ip is X'' and related X'' when empty: key columns cannot be NULL.
DROP TABLE detection_rollups;
CREATE TABLE detection_rollups (
	hour             INTEGER NOT NULL,
	member_id        TEXT NOT NULL,
	rule_id          TEXT NOT NULL,
	source_ip        BLOB NOT NULL,
	rule_name        TEXT NOT NULL,
	techniques       TEXT NOT NULL, -- comma-joined, as in detections
	destination_port INTEGER NOT NULL,
	event_type       TEXT NOT NULL,
	event_category   TEXT NOT NULL,
	signature        TEXT NOT NULL,
	outbound         INTEGER NOT NULL,
	target           TEXT NOT NULL,
	detections       INTEGER NOT NULL,
	count            INTEGER NOT NULL,
	severity         INTEGER NOT NULL,
	first_seen       INTEGER NOT NULL,
	last_seen        INTEGER NOT NULL,
	first_id         INTEGER NOT NULL,
	related          BLOB NOT NULL, -- 16 bytes per address, sorted and distinct
	PRIMARY KEY (hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
		event_category, signature, outbound, target)
) STRICT, WITHOUT ROWID;
CREATE INDEX detection_rollups_member ON detection_rollups (member_id, hour);
UPDATE rollup_mark SET detection_id = 0;

-- +goose Down
DROP TABLE detection_rollups;
CREATE TABLE detection_rollups (
	hour       INTEGER NOT NULL,
	member_id  TEXT NOT NULL,
	rule_id    TEXT NOT NULL,
	source_ip  BLOB NOT NULL,
	detections INTEGER NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (hour, member_id, rule_id, source_ip)
) STRICT, WITHOUT ROWID;
CREATE INDEX detection_rollups_member ON detection_rollups (member_id, hour, rule_id, source_ip);
UPDATE rollup_mark SET detection_id = 0;
