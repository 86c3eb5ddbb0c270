// Package postgres is central's PostgreSQL store (PostgreSQL 15 or later),
// for deployments that run central as several nodes on one database. It
// keeps the contracts of package store and passes its conformance suite,
// store/storetest.
//
// Connections are pgx (jackc/pgx/v5) connections in a pgxpool; queries use
// pgx directly, with COPY for ingest. goose migrates the schema from files
// embedded in the binary, through database/sql over the same pool
// (pgx/v5/stdlib), under an advisory lock, so nodes that start together
// migrate once.
//
// Schema choices (migrations/00001_central.sql):
//
//   - Times are timestamptz, addresses inet (which sorts as netip.Addr
//     does), techniques and related addresses arrays. Identifiers that
//     reads return sorted are COLLATE "C": bytewise, as in SQLite.
//   - Detections and summaries are partitioned by month of received time,
//     central's clock. Partitions are made as months come, a month ahead,
//     as tables that are then attached (no lock that blocks queries);
//     retention detaches and drops whole months and deletes what is left
//     before the cutoff row-wise, in transactions of a few thousand rows.
//   - Timestamps have BRIN indexes: a few pages per month, cheap to keep
//     at ingest, and exact enough because received follows insertion and
//     last_seen nearly does. A member's rows are paged through a btree on
//     (member_id, id). As in the SQLite store there is no index led by
//     source: windowed reads (SourceActivity, SourceMembers) start from
//     the time index, and an index on source would take scattered inserts
//     from every batch. (A btree on last_seen covering what they read
//     made a 7-day SourceActivity no faster once the window's pages were
//     cached, and cost a third of detection ingest.)
//   - Ids come from sequences and rise in commit order: ingest takes them
//     under an advisory lock held to commit (see ingestLockID), so a
//     reader paging by id never passes a row that commits later. So that
//     the lock and the commit's WAL flush are paid once for many batches,
//     concurrent IngestBatch calls share one transaction, each batch in a
//     savepoint of its own (group commit, see groupcommit.go).
//   - A batch row is the dedupe key (INSERT ... ON CONFLICT DO NOTHING on
//     (collector_id, batch_id)) and records how many detections and
//     summaries the batch brought, so Counts sums batch rows instead of
//     counting the large tables.
//   - Hourly rollups per member, rule, source and what reports group by
//     (detection_rollups, store.Rollup), by last seen, are kept in the
//     ingest transaction, for reports and the dashboard, and retention
//     takes out what it deletes in its own (see unroll); see Rollups.
//
// Several nodes may share the database: partition DDL and releases are
// serialised by advisory locks, enrolment tokens by row locks, and a node
// that finds a partition gone (another node's retention) makes it again.
package postgres
