// Package sqlite is central's default store: embedded SQLite (mattn/go-sqlite3)
// in WAL mode, with its schema migrated by goose from files embedded in the
// binary (a goose.Provider, no global goose state).
//
// Connections: one writer connection, so writes queue in database/sql's pool
// instead of failing on SQLITE_BUSY, and a pool of query_only readers that
// run beside it (WAL lets readers see the last commit while a write is in
// progress). Foreign keys are on; every write is BEGIN IMMEDIATE.
// synchronous=NORMAL: in WAL mode a commit stays atomic and the file
// consistent after a power cut; only the last commits before the cut may
// roll back, whole, and collectors resend what was not acknowledged.
// A checkpointer goroutine on a connection of its own copies the WAL into
// the database every few megabytes of ingest (PASSIVE, no writer lock), so
// the writer does not stall on checkpoints in its commits; the writer's own
// automatic checkpoint, at 64 MiB of WAL, is only a backstop. Close stops
// it.
//
// Schema choices (migrations/00001_central.sql):
//
//   - Times are INTEGER nanoseconds since 1970 UTC: compact, exact, and
//     they compare and bucket (hour, day) with integer arithmetic.
//   - Addresses are 16-byte BLOBs (netip.Addr.As16, IPv4 mapped): fixed
//     width, so they compare, sort and group by memcmp in numeric order
//     (text would put 10.0.0.10 before 10.0.0.9, and vary in width).
//   - A detection keeps its §3.2 fields as columns, for filters and
//     aggregation, and the collector's JSON byte for byte in raw, for
//     export. Techniques are comma-joined (ids hold no comma), so
//     group_concat(DISTINCT) merges them per source in SQL; related
//     addresses are one BLOB of 16-byte entries.
//   - Detections and summaries have AUTOINCREMENT ids: keyset paging is a
//     rowid range, ids rise with time received and never come back.
//   - Indexes lead with time, or member then time, so ingest appends to
//     them: detections (member_id, last_seen) for member views and export,
//     (last_seen) for windowed aggregation (SourceActivity sorts the
//     window by source); summaries (member_id, minute) and (minute). An
//     index led by source_ip takes scattered inserts from every batch and
//     made detection ingest about three times slower (see the package
//     benchmarks), so there is none: a Detections filter on a source
//     alone scans the table, and callers should bound it with a window.
//     The time index covers the columns aggregation reads, so it never
//     touches the wide rows.
//   - High-volume rows carry no foreign keys; the batch row checks the
//     collector once per batch. The batch's (collector_id, batch_id)
//     primary key is the dedupe: INSERT ... ON CONFLICT DO NOTHING, and a
//     duplicate writes nothing else. Rows go in as multi-row INSERTs.
//   - CHECK constraints guard what aggregation relies on (severity 1-100,
//     count ≥ 1, last_seen ≥ first_seen, 16-byte summary sources); a breach
//     rolls the whole batch back and surfaces as store.ErrInvalid.
//   - New files get 16 KiB pages: a batch of detections is about a
//     megabyte, and each page written to the WAL is a system call.
//
// Retention goes by batch, oldest received first, through the batches
// (received) index. Each batch row records the id ranges of its detections
// and summaries, so their rows are deleted by rowid range and those tables
// need no index on received. Received is central's clock, which no
// collector can set, unlike last_seen. Each transaction deletes a few
// thousand rows, so ingest waits milliseconds for the writer between them.
//
// Hourly rollups (migrations/00003_rollups.sql, 00004_rollup_keys.sql,
// rollups.go) are not kept by ingest: a read first groups the detections
// above a watermark id into them, in chunks through the writer, and
// retention takes out of them what it deletes, in the same transaction. So
// ingest pays nothing for them and a read is exact.
package sqlite
