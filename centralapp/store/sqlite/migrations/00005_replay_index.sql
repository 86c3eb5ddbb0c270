-- +goose Up
-- Rebuilding the aggregation reads every detection of a month by last
-- seen (Store.Replay). With rule_id and related_ips the time index covers
-- all it reads, so a replay never reads the wide rows, most of which is
-- raw.
DROP INDEX detections_last_seen;
CREATE INDEX detections_last_seen ON detections
	(last_seen, source_ip, member_id, techniques, destination_port, count, first_seen, rule_id, related_ips);

-- +goose Down
DROP INDEX detections_last_seen;
CREATE INDEX detections_last_seen ON detections
	(last_seen, source_ip, member_id, techniques, destination_port, count, first_seen);
