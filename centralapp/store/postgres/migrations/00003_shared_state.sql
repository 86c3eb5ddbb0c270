-- +goose Up
-- State of the shared work that the node holding its lease keeps and the
-- next holder resumes from (the aggregator's snapshot), by name.
CREATE TABLE shared_state (
	name    text COLLATE "C" PRIMARY KEY,
	data    bytea NOT NULL,
	updated timestamptz NOT NULL
);

-- +goose Down
DROP TABLE shared_state;
