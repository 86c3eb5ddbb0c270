// Package store defines central's storage: the records central keeps
// (members, enrolment tokens, collectors, accounts, API tokens, ingested
// batches and what they carry, and the outputs of aggregation) and the
// [Store] interface every backend implements.
//
// The default backend is embedded SQLite (package store/sqlite); package
// store/storetest is the conformance suite any backend must pass unchanged.
//
// Contracts every backend keeps:
//
//   - Times are stored in UTC and read back in UTC, with at least
//     microsecond precision. The zero time means "not set".
//   - Addresses are [netip.Addr] values without zones; an IPv4-mapped IPv6
//     address reads back as IPv4.
//   - Secrets are never stored: enrolment and API tokens are kept as their
//     SHA-256 ([HashToken]); passwords as a hash string made elsewhere.
//   - [Store.IngestBatch] is one transaction. A record that breaks a
//     constraint (see [Batch]) fails the whole batch with [ErrInvalid] and
//     nothing of it is stored.
//   - Errors wrap the sentinel errors of this package, so callers test them
//     with errors.Is.
//   - A Store is safe for concurrent use.
//
// Scoping a member to its own data is the caller's job: every read that can
// be scoped takes a member id, and "" means all members.
package store
