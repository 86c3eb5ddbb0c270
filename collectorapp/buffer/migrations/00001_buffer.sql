-- +goose Up
-- records holds what the pipeline appended and no batch holds yet. The
-- rowid is the order of arrival, so "oldest" is the lowest id.
CREATE TABLE records (
    id      INTEGER PRIMARY KEY,
    kind    INTEGER NOT NULL CHECK (kind IN (1, 2)), -- 1 detection, 2 summary
    created INTEGER NOT NULL,                        -- Unix nanoseconds
    payload BLOB    NOT NULL                         -- one JSON object
);

-- outbox holds sealed batches waiting to be delivered, oldest first.
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY,
    batch_id  TEXT    NOT NULL UNIQUE, -- ULID
    seq       INTEGER NOT NULL,
    created   INTEGER NOT NULL,        -- Unix nanoseconds
    records   INTEGER NOT NULL,        -- how many records the batch holds
    raw_bytes INTEGER NOT NULL,        -- size of the JSON before zstd
    body      BLOB    NOT NULL         -- zstd-compressed batch JSON
);

-- quarantine keeps batches central rejected for good (4xx), out of the
-- send queue, for people to look at.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    batch_id    TEXT    NOT NULL UNIQUE,
    seq         INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    records     INTEGER NOT NULL,
    raw_bytes   INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    quarantined INTEGER NOT NULL, -- Unix nanoseconds
    status      INTEGER NOT NULL, -- the HTTP status central answered
    reason      TEXT    NOT NULL
);

-- offsets are the file tailer's read positions, committed with the
-- records made from the lines before them.
CREATE TABLE offsets (
    key    TEXT    PRIMARY KEY,
    dev    INTEGER NOT NULL,
    ino    INTEGER NOT NULL,
    head   BLOB,
    offset INTEGER NOT NULL
) WITHOUT ROWID;

-- state holds counters that must survive restarts.
CREATE TABLE state (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO state (key, value) VALUES
    ('seq', 0),
    ('dropped_records', 0),
    ('dropped_batches', 0),
    ('dropped_quarantined', 0),
    ('dropped_invalid', 0),
    ('quarantined', 0);

-- +goose Down
DROP TABLE state;
DROP TABLE offsets;
DROP TABLE quarantine;
DROP TABLE outbox;
DROP TABLE records;
