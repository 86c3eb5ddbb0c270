-- +goose Up
-- One row per attempt to mail a report to one recipient. member_id is the
-- report's, copied so a member's deliveries are read without a join.
CREATE TABLE deliveries (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	report_id text COLLATE "C" NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
	member_id text COLLATE "C" NOT NULL,
	recipient text NOT NULL CHECK (recipient <> ''),
	attempt   integer NOT NULL CHECK (attempt >= 1),
	time      timestamptz NOT NULL,
	outcome   text NOT NULL CHECK (outcome IN ('sent', 'failed')),
	error     text NOT NULL,
	CHECK ((outcome = 'sent') = (error = ''))
);
CREATE INDEX deliveries_report ON deliveries (report_id);
CREATE INDEX deliveries_member ON deliveries (member_id);

-- +goose Down
DROP TABLE deliveries;
