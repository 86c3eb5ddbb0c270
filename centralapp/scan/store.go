package scan

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Errors a caller can test for with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Scan statuses.
const (
	StatusRunning = "running"
	StatusDone    = "done"    // every target scanned
	StatusPartial = "partial" // some targets refused or failed; the rest scanned
	StatusRefused = "refused" // nothing in scope: nothing was dialled
	StatusKilled  = "killed"  // stopped by the kill switch
	StatusFailed  = "failed"
)

// Run is one scan of a member's targets.
type Run struct {
	ID       string // ULID
	MemberID string
	By       string // an account name, or "schedule"
	Started  time.Time
	Finished time.Time // zero while running
	Status   string
	// Notes says what was refused or went wrong, a line each.
	Notes  []string
	Probes int64
}

// AuditEntry is one probe: a connection central opened, or refused to.
type AuditEntry struct {
	ID       int64
	RunID    string // "" for a proof check outside a scan
	MemberID string
	By       string
	Probe    string // tcp-connect, greeting, tls, http, verify-http, ...
	Host     string
	Addr     netip.Addr
	Port     uint16
	Detail   string // what was sent: the HTTP path, the TLS version offered
	Started  time.Time
	Finished time.Time
	Result   string // open, closed, refused by scope, a status line, an error
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	MemberID string
	RunID    string
	Limit    int // 1000 when 0
}

// Schedule is how often a member's targets are scanned.
type Schedule struct {
	MemberID string
	Every    time.Duration
	Next     time.Time
	By       string
	Updated  time.Time
}

// KillState is the durable kill switch.
type KillState struct {
	On  bool
	By  string
	At  time.Time
	Why string
}

// auditChunk bounds the audit entries one retention transaction deletes,
// so that probes being logged wait milliseconds, not the whole deletion.
const auditChunk = 10_000

// Store keeps what scanning needs to remember: targets and their proofs
// and approvals, runs with their findings, schedules, the kill switch and
// the audit log. It is safe for concurrent use. SQLite keeps it for one
// node; Postgres shares it between the nodes of a cluster.
type Store interface {
	AddTarget(ctx context.Context, t Target) error // ErrExists for a member's duplicate value
	Target(ctx context.Context, id string) (Target, error)
	Targets(ctx context.Context, memberID string) ([]Target, error) // "" for all; by member, then id
	// AddProof records a check and, when it succeeded, the target's new
	// proof and expiry.
	AddProof(ctx context.Context, p Proof) error
	Proofs(ctx context.Context, targetID string) ([]Proof, error) // oldest first
	// Approve records an analyst's approval of a range target.
	Approve(ctx context.Context, a Approval) error

	StartRun(ctx context.Context, r Run) error
	// FinishRun records r's end and its findings in one transaction.
	FinishRun(ctx context.Context, r Run, findings []Finding) error
	Run(ctx context.Context, id string) (Run, error)
	// Runs lists a member's runs, newest first.
	Runs(ctx context.Context, memberID string, limit int) ([]Run, error)
	Findings(ctx context.Context, runID string) ([]Finding, error)

	// AuditStart writes a probe before it is made and returns its id;
	// AuditFinish records the result. A crash between the two leaves the
	// entry without a result: the probe may have been made.
	AuditStart(ctx context.Context, e AuditEntry) (int64, error)
	AuditFinish(ctx context.Context, id int64, finished time.Time, result string) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// RetainAudit deletes the entries of probes started before cut, a
	// chunk per transaction, and returns how many it deleted. An entry
	// without a start time is kept.
	RetainAudit(ctx context.Context, cut time.Time) (int64, error)

	SetSchedule(ctx context.Context, s Schedule) error
	DeleteSchedule(ctx context.Context, memberID string) error
	Schedules(ctx context.Context) ([]Schedule, error)

	SetKill(ctx context.Context, k KillState) error
	Kill(ctx context.Context) (KillState, error)

	Close() error
}
