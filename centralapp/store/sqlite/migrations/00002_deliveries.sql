-- +goose Up
-- One row per attempt to mail a report to one recipient. member_id is the
-- report's, copied so a member's deliveries are read without a join.
CREATE TABLE deliveries (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	report_id TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
	member_id TEXT NOT NULL,
	recipient TEXT NOT NULL CHECK (recipient <> ''),
	attempt   INTEGER NOT NULL CHECK (attempt >= 1),
	time      INTEGER NOT NULL CHECK (time <> 0),
	outcome   TEXT NOT NULL CHECK (outcome IN ('sent', 'failed')),
	error     TEXT NOT NULL,
	CHECK ((outcome = 'sent') = (error = ''))
) STRICT;
CREATE INDEX deliveries_report ON deliveries (report_id);
CREATE INDEX deliveries_member ON deliveries (member_id);

-- +goose Down
DROP TABLE deliveries;
