-- +goose Up
-- Hourly rollups of detections per member, rule and source (by last seen),
-- for reports and the dashboard. Ingest does not touch them: rollups.go
-- adds the detections above rollup_mark's id, through the writer, before
-- every read, and retention takes out what it deletes, so they always equal
-- a grouping of the detections. source_ip is X'' for detections about no
-- one source: a primary key column cannot be NULL.
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

-- The highest detection id rolled up. A database migrated with detections
-- in it starts at 0, so its first read rolls them all up.
CREATE TABLE rollup_mark (
	one          INTEGER PRIMARY KEY CHECK (one = 1),
	detection_id INTEGER NOT NULL
) STRICT;
INSERT INTO rollup_mark (one, detection_id) VALUES (1, 0);

-- +goose Down
DROP TABLE rollup_mark;
DROP TABLE detection_rollups;
