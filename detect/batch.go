package detect

import (
	"encoding/json"
	"net/netip"
	"time"
)

// Batch is what a collector sends to central in one POST /api/v1/batches
// (DESIGN.md §3.4), before zstd compression. It carries metadata only:
// detections, flow summaries and health, never raw lines.
type Batch struct {
	BatchID     string    `json:"batch_id"` // ULID, unique per collector
	CollectorID string    `json:"collector_id"`
	MemberID    string    `json:"member_id"`
	Seq         uint64    `json:"seq"` // per collector, rising by one per batch
	Created     time.Time `json:"created"`

	// Detections are §3.2 detection objects, as Detection.AppendJSON writes
	// them.
	Detections []json.RawMessage `json:"detections"`
	Summaries  []FlowSummary     `json:"summaries"`
	Health     *Health           `json:"health,omitempty"`
}

// FlowSummary is the exact count of suspicious external events that no rule
// matched, for one (minute, source ip, destination port, transport,
// event.type, device) key.
type FlowSummary struct {
	Minute          time.Time  `json:"minute"` // start of the minute, UTC
	SourceIP        netip.Addr `json:"source_ip"`
	DestinationPort uint16     `json:"destination_port,omitempty"`
	Transport       string     `json:"transport,omitempty"`
	EventType       string     `json:"event_type"`
	Device          string     `json:"device"` // observer.hostname, or the input's name
	Dataset         string     `json:"dataset"`
	Count           int64      `json:"count"`
	// Destination is the internal destination, pseudonymised when the
	// member asks for it; empty when it is not sent.
	Destination string `json:"destination,omitempty"`
}

// Health is a collector's state at one moment.
type Health struct {
	Time    time.Time      `json:"time"`
	Started time.Time      `json:"started"`
	Version string         `json:"version"`
	Devices []DeviceHealth `json:"devices"`
	Counts  HealthCounts   `json:"counts"`
	// Buffer is the size of the collector's buffer in bytes, and
	// BufferLimit its bound.
	Buffer      int64 `json:"buffer_bytes"`
	BufferLimit int64 `json:"buffer_limit_bytes"`
}

// DeviceHealth is what the collector knows of one reporting device.
type DeviceHealth struct {
	Device   string    `json:"device"`
	Dataset  string    `json:"dataset,omitempty"`
	Input    string    `json:"input,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	Lines    int64     `json:"lines"`
	Failed   int64     `json:"failed"`
}

// HealthCounts are running totals since the collector started.
type HealthCounts struct {
	LinesIn          int64 `json:"lines_in"`
	Parsed           int64 `json:"parsed"`
	NotEvents        int64 `json:"not_events"`
	Failed           int64 `json:"failed"`
	FilteredInternal int64 `json:"filtered_internal"`
	FilteredTrusted  int64 `json:"filtered_trusted"`
	Detections       int64 `json:"detections"`
	Summaries        int64 `json:"summaries"`
	DroppedOversize  int64 `json:"dropped_oversize"`
	DroppedRate      int64 `json:"dropped_rate"`
	DroppedUDP       int64 `json:"dropped_udp"`
	DroppedDisk      int64 `json:"dropped_disk"` // records dropped, oldest first, at the buffer's bound
	Quarantined      int64 `json:"quarantined"`
}
