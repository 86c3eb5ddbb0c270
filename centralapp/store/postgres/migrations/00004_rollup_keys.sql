-- +goose Up
-- Rollups keyed by all that reports group and filter by (store.Rollup),
-- so a report counts from them instead of reading every detection. Ingest
-- keeps them from the decoded batch (store.SampleOf); here they are made
-- again from the stored detections, with the sample fields read by jsonb.
-- That agrees with encoding/json for every sample a collector writes; it
-- differs only for keys in another case, which encoding/json also matches,
-- and raw JSON PostgreSQL cannot read (invalid UTF-8, lone surrogates),
-- whose sample then reads as empty.
DROP TABLE detection_rollups;
CREATE TABLE detection_rollups (
	hour             timestamptz NOT NULL,
	member_id        text COLLATE "C" NOT NULL,
	rule_id          text COLLATE "C" NOT NULL,
	source_ip        inet,
	rule_name        text COLLATE "C" NOT NULL,
	techniques       text COLLATE "C" NOT NULL, -- comma-joined
	destination_port integer NOT NULL,
	event_type       text COLLATE "C" NOT NULL,
	event_category   text COLLATE "C" NOT NULL,
	signature        text COLLATE "C" NOT NULL,
	outbound         boolean NOT NULL,
	target           text COLLATE "C" NOT NULL,
	detections       bigint NOT NULL,
	count            bigint NOT NULL,
	severity         smallint NOT NULL,
	first_seen       timestamptz NOT NULL,
	last_seen        timestamptz NOT NULL,
	first_id         bigint NOT NULL,
	related          inet[] NOT NULL, -- sorted and distinct
	UNIQUE NULLS NOT DISTINCT (hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
		event_category, signature, outbound, target)
);
CREATE INDEX detection_rollups_member_hour ON detection_rollups (member_id, hour);

-- +goose StatementBegin
CREATE FUNCTION rollup_sample(raw bytea) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	s jsonb;
	out text[] := '{}';
	p text[];
BEGIN
	BEGIN
		s := convert_from(raw, 'UTF8')::jsonb #> '{detection,sample}';
	EXCEPTION WHEN OTHERS THEN
		s := NULL;
	END;
	FOREACH p SLICE 1 IN ARRAY ARRAY[['event', 'type'], ['event', 'category'], ['network', 'direction'],
		['destination', 'ip'], ['rule', 'name']] LOOP
		out := out || CASE WHEN jsonb_typeof(s #> p) = 'string' THEN s #>> p ELSE '' END;
	END LOOP;
	RETURN out;
END $$;
-- +goose StatementEnd
CREATE AGGREGATE rollup_related (inet[]) (SFUNC = array_cat, STYPE = inet[], INITCOND = '{}');

INSERT INTO detection_rollups (hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
	event_category, signature, outbound, target, detections, count, severity, first_seen, last_seen, first_id, related)
SELECT date_trunc('hour', last_seen, 'UTC'), member_id, rule_id, source_ip, rule_name, techniques, port, s[1], s[2],
	s[5], s[3] = 'outbound', CASE WHEN s[3] = 'outbound' THEN s[4] ELSE '' END, count(*), sum(count), max(severity),
	min(first_seen), max(last_seen), min(id), ARRAY(SELECT DISTINCT a FROM unnest(rollup_related(related_ips)) a ORDER BY a)
FROM (SELECT last_seen, member_id, rule_id, source_ip, rule_name, array_to_string(techniques, ',') AS techniques,
		coalesce(destination_port, 0) AS port, count, severity, first_seen, id, related_ips, rollup_sample(raw) AS s
	FROM detections) d
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;

DROP AGGREGATE rollup_related (inet[]);
DROP FUNCTION rollup_sample (bytea);

-- +goose Down
DROP TABLE detection_rollups;
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
INSERT INTO detection_rollups
SELECT date_trunc('hour', last_seen, 'UTC'), member_id, rule_id, source_ip, count(*), sum(count), min(first_seen),
	max(last_seen)
FROM detections GROUP BY 1, 2, 3, 4;
