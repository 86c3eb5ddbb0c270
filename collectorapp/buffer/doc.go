// Package buffer is the collector's durable store: an SQLite database in WAL
// mode that holds what the pipeline produced until central has it.
//
// Data moves through three tables, and every move is one transaction, so a
// crash or kill -9 at any point neither loses nor duplicates a record:
//
//	Commit/AppendBatch ──▶ records ──Seal──▶ outbox ──Delivered──▶ (gone)
//	                                           └──Quarantine──▶ quarantine
//
// The calls, by who makes them:
//
//   - [Buffer.Commit] appends detection and flow-summary records and, in the
//     same transaction, the file offsets of the lines they came from
//     ([Buffer.AppendBatch] and [Buffer.Append] are Commit without offsets).
//     A restarted tailer resumes from [Buffer.Offset], so it neither re-reads
//     nor skips a line.
//   - [Buffer.Seal] takes the oldest records, builds the batch JSON of
//     DESIGN.md §3.4 (exactly as detect.Batch marshals), compresses it with
//     zstd and moves it into the outbox. [Buffer.RunSealer] seals when a
//     full batch is pending or the oldest record reaches an age.
//   - The forwarder loops over [Buffer.Oldest], then [Buffer.Delivered] or
//     [Buffer.Quarantine], and waits on [Buffer.Ready] when the outbox is
//     empty.
//   - [Buffer.Stats] feeds health and metrics.
//
// Disk use is bounded by Options.MaxBytes. The WAL gets a sixteenth of it
// (between 64 KiB and 64 MiB: it is checkpointed and truncated at that size)
// and the database pages the rest. After each write that leaves the database
// over its share, the buffer first hands free pages back to the file system
// (incremental auto-vacuum, set when the file is created, so no full VACUUM,
// which would need twice the space and lock the buffer, is ever run), then
// drops data oldest first, and counts every drop in counters that survive
// restarts (see [Stats]); it never drops silently. The order: quarantined
// batches while they hold more than a quarter of the bound, then the oldest
// sealed batches, then the oldest pending records (down to a sixteenth below
// the bound, so a full buffer drops in chunks), and the remaining
// quarantined batches last. Undelivered data is worth more than rejected
// data, but a few rejected batches stay for people to look at. A single
// transaction can overshoot the bound until the trim that follows it.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. In WAL
// mode that setting still keeps every committed transaction atomic and the
// file consistent after a power cut; what it gives up is only the fsync at
// each commit, so the last transactions before a power cut (not a process
// crash, which loses nothing) may roll back. They roll back whole, records
// and offsets together, so the tailer re-reads exactly those lines and the
// data is neither lost nor duplicated. An fsync per commit would cap ingest
// at the disk's flush rate.
//
// A Buffer is safe for concurrent use. Writes are serialised inside the
// Buffer; reads (Oldest, Stats) run beside them on their own connections.
package buffer
