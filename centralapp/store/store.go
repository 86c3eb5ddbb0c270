package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Errors a caller can test for with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrTokenUsed    = errors.New("token already used")
	ErrTokenExpired = errors.New("token expired")
	ErrRevoked      = errors.New("collector revoked")
	// ErrInvalid marks a record the store refuses: a broken constraint
	// (see [Batch]) or a member that does not match.
	ErrInvalid = errors.New("invalid record")
)

// DefaultLimit is the page size of a read whose filter sets none, and
// MaxLimit the largest page a read returns.
const (
	DefaultLimit = 1000
	MaxLimit     = 100_000
)

// TokenHash is the SHA-256 of a secret token; stores keep only this.
type TokenHash [sha256.Size]byte

// HashToken returns the hash under which token is stored.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// Member is an organisation whose collectors send to central. Sector and
// Region group members in reports and trends.
type Member struct {
	ID       string // slug: [a-z0-9][a-z0-9._-]{0,63}
	Name     string
	Sector   string
	Region   string
	TimeZone string // IANA name, for the member's reports
	Created  time.Time
}

// EnrolToken is a one-time enrolment token, by hash.
type EnrolToken struct {
	Hash     TokenHash
	MemberID string
	Created  time.Time
	Expires  time.Time
	Used     time.Time // zero while unused
}

// Collector is an enrolled collector and its current client certificate.
type Collector struct {
	ID       string // ULID, issued at enrolment
	MemberID string
	// CertSerial is the current certificate's serial number (hex), and
	// CertNotAfter its expiry.
	CertSerial   string
	CertNotAfter time.Time
	Created      time.Time
	Revoked      time.Time // zero unless revoked
	LastSeen     time.Time // last accepted batch; zero before the first
}

// Roles of accounts.
const (
	RoleAdmin   = "admin"
	RoleAnalyst = "analyst"
	RoleMember  = "member"
)

// Account is a person or program that uses the API. A member account has a
// MemberID; admin and analyst accounts have none.
type Account struct {
	Name         string
	Role         string // RoleAdmin, RoleAnalyst or RoleMember
	MemberID     string
	PasswordHash string // made and checked by the caller; "" for token-only accounts
	Created      time.Time
}

// APIToken is a bearer token of an account, by hash.
type APIToken struct {
	Hash    TokenHash
	Account string
	Created time.Time
	Expires time.Time
}

// Batch is one accepted collector batch (DESIGN.md §3.4), decoded. Received
// is central's clock when it arrived; retention and the received time of
// every record in it come from it.
//
// Constraints a backend enforces on every record (a breach fails the whole
// batch with ErrInvalid): a detection has a rule id and name, severity
// 1-100, count ≥ 1, first and last seen set with last ≥ first, Raw set, and
// no member other than the batch's; a summary has a minute, a valid source
// and count ≥ 1. The collector must exist, be the batch member's and not be
// revoked.
type Batch struct {
	ID          string // batch_id, a ULID, unique per collector
	CollectorID string
	MemberID    string
	Seq         uint64
	Created     time.Time
	Received    time.Time
	Detections  []Detection
	Summaries   []detect.FlowSummary
	Health      *detect.Health

	// LastDetectionID and LastSummaryID are set by IngestBatch when it
	// stores the batch: the highest detection and summary id it gave (0
	// when the batch has none, and on a duplicate or an error). Ids rise
	// in commit order, so a reader that has seen every batch up to these
	// ids has seen every row stored before them.
	LastDetectionID, LastSummaryID int64
}

// Detection is a stored §3.2 detection: its decoded fields as columns, and
// Raw, the exact JSON the collector sent, so export reproduces it byte for
// byte. ID, CollectorID, BatchID and Received are set by the store.
type Detection struct {
	ID          int64 // rises with insertion; the paging key
	MemberID    string
	CollectorID string
	BatchID     string

	RuleID          string
	RuleName        string
	Severity        int
	Techniques      []string
	Source          netip.Addr // invalid when the detection is not about one source
	Destination     netip.Addr
	DestinationPort uint16
	Related         []netip.Addr
	DistinctSources int
	Count           int64
	FirstSeen       time.Time
	LastSeen        time.Time
	Received        time.Time

	Raw json.RawMessage
}

// Summary is a stored flow summary.
type Summary struct {
	ID          int64
	MemberID    string
	CollectorID string
	Received    time.Time
	detect.FlowSummary
}

// DetectionFilter selects detections. Zero fields do not filter. Results
// are ordered by ID; to page, pass the last ID seen as After.
type DetectionFilter struct {
	MemberID string    // "" for all members
	Since    time.Time // last seen at or after
	Until    time.Time // last seen before
	RuleID   string
	Source   netip.Addr
	After    int64 // IDs above this
	Limit    int   // DefaultLimit when 0; at most MaxLimit
}

// Replayed is what rebuilding the cross-member aggregation reads of a
// stored detection: its fields the aggregation counts, not the rest of the
// row (most of which is Raw).
type Replayed struct {
	ID              int64
	MemberID        string
	RuleID          string
	Techniques      []string
	Source          netip.Addr
	Related         []netip.Addr
	DestinationPort uint16
	Count           int64
	FirstSeen       time.Time
	LastSeen        time.Time
}

// SummaryFilter selects flow summaries by their minute, ordered by ID.
type SummaryFilter struct {
	MemberID string
	Since    time.Time // minute at or after
	Until    time.Time // minute before
	After    int64
	Limit    int
}

// Bucket is the time resolution of summary counts.
type Bucket int

// Buckets.
const (
	Hour Bucket = iota + 1
	Day
)

// SummaryCountFilter selects the summaries SummaryCounts adds up.
type SummaryCountFilter struct {
	MemberID string
	Since    time.Time
	Until    time.Time
	Bucket   Bucket // Hour or Day (UTC)
}

// SummaryCount is the summed count of flow summaries of one bucket, port,
// source and member. Ordered by Bucket, Port, Source, MemberID.
type SummaryCount struct {
	Bucket   time.Time
	Port     uint16
	Source   netip.Addr
	MemberID string
	Count    int64
}

// Rollup is one hour of a member's detections of one rule from one source,
// by last seen, that agree on what reports group and filter by: what
// reports and the dashboard count, without reading the detections.
// Detections about no one source roll up under an invalid Source. The key
// is the fields up to Target (see RollupOf); a dashboard that wants hour,
// member, rule and source sums the rollups that share them.
type Rollup struct {
	Hour     time.Time // UTC, on the hour: last seen in [Hour, Hour+1h)
	MemberID string
	RuleID   string
	Source   netip.Addr

	RuleName        string
	Techniques      []string
	DestinationPort uint16
	EventType       string // of the sample event (SampleOf)
	EventCategory   string // of the sample event
	Signature       string // the sample event's rule.name
	Outbound        bool   // the sample event's network.direction is "outbound"
	Target          string // the sample event's destination.ip when Outbound, else ""

	Detections int64 // stored detections
	Count      int64 // the sum of their counts
	Severity   int   // the highest
	FirstSeen  time.Time
	LastSeen   time.Time
	FirstID    int64        // the lowest detection id
	Related    []netip.Addr // the union of their Related, sorted and distinct
}

// RollupFilter selects rollups. Zero fields do not filter. Since and Until
// select hours, so on the hour they select exactly the detections a
// DetectionFilter with the same window selects.
type RollupFilter struct {
	MemberID string
	RuleID   string
	Since    time.Time // hours at or after
	Until    time.Time // hours before
}

// SourceActivity is what one source did across members within a window:
// the detections whose Source it is, grouped. Members, Techniques and Ports
// are sorted and distinct.
type SourceActivity struct {
	Source     netip.Addr
	Members    []string
	Techniques []string
	Ports      []uint16 // destination ports of detections that carry one
	Detections int64    // stored detections
	Count      int64    // sum of their counts
	FirstSeen  time.Time
	LastSeen   time.Time
}

// CollectorHealth is a collector with its latest health report and what it
// knows of its devices.
type CollectorHealth struct {
	Collector Collector
	Health    *detect.Health // latest by Health.Time; nil before any
	Devices   []DeviceSeen   // ordered by Device
}

// DeviceSeen is the last time a collector heard from one device.
type DeviceSeen struct {
	Device   string
	Dataset  string
	LastSeen time.Time
}

// Counts are what the store holds for a member, or for all.
type Counts struct {
	Batches    int64
	Detections int64
	Summaries  int64
}

// Campaign is one source seen at several members (cross-member
// aggregation's output). Members, Techniques and Ports are sorted.
type Campaign struct {
	ID         string
	Source     netip.Addr
	Members    []string
	Techniques []string
	Ports      []uint16
	Count      int64
	FirstSeen  time.Time
	LastSeen   time.Time
	Updated    time.Time
	// Replaces names campaigns this one superseded (the aggregator
	// merged them, or an earlier observation moved the first seen):
	// PutCampaigns deletes them. It is not stored.
	Replaces []string
}

// CampaignFilter selects campaigns, newest LastSeen first.
type CampaignFilter struct {
	MemberID string    // campaigns that hit this member; "" for all
	Since    time.Time // last seen at or after
	Limit    int
}

// Release is one published version of a rule pack or indicator list
// (update.KindRules, update.KindIndicators). Payload is what central
// serves: the signed envelope, as update.Signed marshals.
type Release struct {
	Kind    string
	Version int64
	Payload []byte
	Created time.Time
}

// Report is a rendered report. MemberID is "" for cross-member (analyst)
// reports.
type Report struct {
	ID          string
	MemberID    string
	Kind        string
	PeriodStart time.Time
	PeriodEnd   time.Time
	Created     time.Time
	HTML        []byte
	PDF         []byte
}

// Outcomes of a [Delivery].
const (
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// Delivery is one attempt to mail a report to one recipient. ID and
// MemberID (the report's member) are set by the store.
type Delivery struct {
	ID        int64 // rises with insertion
	ReportID  string
	MemberID  string
	Recipient string
	Attempt   int // 1 for the first attempt at this recipient
	Time      time.Time
	Outcome   string // DeliverySent or DeliveryFailed
	Error     string // why it failed; "" when sent
}

// DeliveryFilter selects deliveries, ordered by ID. Zero fields do not
// filter.
type DeliveryFilter struct {
	ReportID string
	MemberID string    // "" for all members and the cross-member reports
	Since    time.Time // attempts at or after
	Limit    int       // DefaultLimit when 0; at most MaxLimit
}

// Store is central's storage. See the package documentation for the
// contracts every implementation keeps.
type Store interface {
	// AddMember adds m; ErrExists if its id is taken.
	AddMember(ctx context.Context, m Member) error
	// Member returns the member with id, or ErrNotFound.
	Member(ctx context.Context, id string) (Member, error)
	// Members returns all members, by id.
	Members(ctx context.Context) ([]Member, error)

	// AddEnrolToken stores t (Used must be zero). ErrNotFound if its member
	// does not exist, ErrExists if the hash is taken.
	AddEnrolToken(ctx context.Context, t EnrolToken) error
	// EnrolToken returns the token with hash, used or not, or ErrNotFound.
	// It lets the enrolment handler learn the member before it signs a
	// certificate; only UseEnrolToken decides.
	EnrolToken(ctx context.Context, hash TokenHash) (EnrolToken, error)
	// UseEnrolToken marks the token used at now and adds c, in one
	// transaction: of concurrent calls with one token exactly one
	// succeeds. It fails with ErrNotFound, ErrTokenUsed, ErrTokenExpired
	// (expired at or before now), ErrInvalid if c.MemberID is not the
	// token's member, or ErrExists if c.ID is taken; then nothing changes.
	UseEnrolToken(ctx context.Context, hash TokenHash, now time.Time, c Collector) error

	// Collector returns the collector with id, or ErrNotFound.
	Collector(ctx context.Context, id string) (Collector, error)
	// Collectors returns a member's collectors ("" for all), by id.
	Collectors(ctx context.Context, memberID string) ([]Collector, error)
	// RenewCollector records the collector's new certificate. ErrNotFound,
	// or ErrRevoked for a revoked collector.
	RenewCollector(ctx context.Context, id, serial string, notAfter time.Time) error
	// RevokeCollector revokes the collector at at; revoking again keeps
	// the first time. ErrNotFound if there is no such collector.
	RevokeCollector(ctx context.Context, id string, at time.Time) error

	// AddAccount adds a; ErrExists if the name is taken, ErrInvalid for a
	// bad role or a member id that does not fit the role, ErrNotFound for
	// an unknown member.
	AddAccount(ctx context.Context, a Account) error
	// Account returns the account with name, or ErrNotFound.
	Account(ctx context.Context, name string) (Account, error)
	// Accounts returns all accounts, by name.
	Accounts(ctx context.Context) ([]Account, error)
	// SetPassword replaces an account's password hash; ErrNotFound.
	SetPassword(ctx context.Context, name, hash string) error
	// DeleteAccount removes an account and its API tokens; ErrNotFound.
	DeleteAccount(ctx context.Context, name string) error
	// AddAPIToken stores t; ErrNotFound for an unknown account, ErrExists
	// for a taken hash.
	AddAPIToken(ctx context.Context, t APIToken) error
	// APIToken returns the token with hash, expired or not, or
	// ErrNotFound.
	APIToken(ctx context.Context, hash TokenHash) (APIToken, error)
	// AccountByToken returns the account whose token has hash:
	// ErrNotFound, or ErrTokenExpired if it expired at or before now.
	AccountByToken(ctx context.Context, hash TokenHash, now time.Time) (Account, error)
	// DeleteAPIToken removes a token; ErrNotFound.
	DeleteAPIToken(ctx context.Context, hash TokenHash) error

	// IngestBatch stores b in one transaction: the batch id, its
	// detections, summaries and health, and the collector's last seen
	// time. A batch id already stored for the collector stores nothing and
	// returns duplicate true. On any error nothing is stored. When it
	// stores the batch it sets b.LastDetectionID and b.LastSummaryID to
	// the highest ids it gave; on a duplicate or an error both are 0.
	IngestBatch(ctx context.Context, b *Batch) (duplicate bool, err error)

	// Detections returns detections that match f, by ID.
	Detections(ctx context.Context, f DetectionFilter) ([]Detection, error)
	// LastIDs returns the highest detection and summary ids stored (0
	// for an empty table). Ids rise in commit order, so every row with a
	// lower id is committed: a reader bounded by them reads a fixed set.
	LastIDs(ctx context.Context) (detection, summary int64, err error)
	// Replay calls fn with every detection last seen in [since, until),
	// in pages ordered by last seen. A page is reused once fn returns (its
	// rows' strings and slices are fn's to keep, and may be shared between
	// rows); an error from fn ends the replay with it.
	Replay(ctx context.Context, since, until time.Time, fn func([]Replayed) error) error
	// Summaries returns flow summaries that match f, by ID.
	Summaries(ctx context.Context, f SummaryFilter) ([]Summary, error)
	// SummaryCounts adds up flow summaries by bucket, port, source and
	// member.
	SummaryCounts(ctx context.Context, f SummaryCountFilter) ([]SummaryCount, error)
	// Health returns the collectors of a member ("" for all) with their
	// latest health and devices, by collector id.
	Health(ctx context.Context, memberID string) ([]CollectorHealth, error)
	// Counts counts what is stored for a member ("" for all).
	Counts(ctx context.Context, memberID string) (Counts, error)

	// Rollups returns the hourly rollups that match f, in CompareRollups
	// order (hour, member, rule, source with the invalid source first,
	// then the rest of the key). They are exact: equal to grouping the
	// stored detections, as Detections returns them, with RollupSet. That
	// holds after Retain too, and covers every batch whose IngestBatch
	// returned before the call.
	Rollups(ctx context.Context, f RollupFilter) ([]Rollup, error)
	// SourceActivity groups the detections last seen in [since, until)
	// by source, ordered by source.
	SourceActivity(ctx context.Context, since, until time.Time) ([]SourceActivity, error)
	// SourceMembers returns, for each of sources, the sorted members that
	// have a detection from it last seen at or after since. Sources seen
	// nowhere are left out.
	SourceMembers(ctx context.Context, sources []netip.Addr, since time.Time) (map[netip.Addr][]string, error)

	// PutCampaigns inserts or replaces campaigns by ID, and deletes the
	// ones they replace, in one transaction.
	PutCampaigns(ctx context.Context, cs []Campaign) error
	// Campaigns returns campaigns that match f, newest LastSeen first.
	Campaigns(ctx context.Context, f CampaignFilter) ([]Campaign, error)

	// PutRelease stores r. Versions of a kind must rise: ErrExists if
	// r.Version is not above the latest of its kind.
	PutRelease(ctx context.Context, r Release) error
	// LatestRelease returns the highest version of kind, or ErrNotFound.
	LatestRelease(ctx context.Context, kind string) (Release, error)

	// PutReport stores r; ErrExists if its id is taken.
	PutReport(ctx context.Context, r Report) error
	// Reports lists a member's reports ("" for the cross-member ones),
	// newest Created first, without HTML and PDF.
	Reports(ctx context.Context, memberID string) ([]Report, error)
	// Report returns the report with id, bodies included, or ErrNotFound.
	Report(ctx context.Context, id string) (Report, error)

	// PutDelivery records one attempt to mail a report. ErrNotFound if
	// the report does not exist; ErrInvalid without a recipient, a time, an
	// attempt ≥ 1 or a known outcome, or unless exactly the failed
	// attempts carry an Error.
	PutDelivery(ctx context.Context, d Delivery) error
	// Deliveries returns the attempts that match f, by ID.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)

	// Retain deletes detections, flow summaries and batch ids received
	// before before, in short transactions so ingest is not held up, and
	// returns how many detections and summaries it deleted.
	Retain(ctx context.Context, before time.Time) (deleted int64, err error)

	// Close releases the store. Closing twice is harmless.
	Close() error
}
