package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Snapshot is the daemon's state at one moment: what /metrics, /healthz and
// the health record sent to central are made from.
type Snapshot struct {
	Time    time.Time
	Started time.Time
	Inputs  []InputSnapshot
	Counts  detect.HealthCounts
	Devices []detect.DeviceHealth

	QueueParse, QueueParseCap int // input batches waiting for the parse stage
	QueueRules, QueueRulesCap int // event batches waiting for the rule stage

	RuleGroups  int
	RuleEvicted int64
	RuleLate    int64
	RuleErrors  int64

	Buffer  BufferSnapshot
	Forward ForwardSnapshot
	Plugins []PluginSnapshot
}

// InputSnapshot counts one input.
type InputSnapshot struct {
	Name, Type                           string
	Lines, Bytes, Oversize, RateDropped  int64
	UDPDropped, Connections, FrameErrors int64
}

// BufferSnapshot is the SQLite buffer's state.
type BufferSnapshot struct {
	Bytes, Limit          int64
	Pending, Sealed       int64 // records not yet in a batch; batches not yet sent
	Quarantined           int64 // batches central refused
	DroppedRecords        int64 // dropped, oldest first, at the disk bound
	DroppedBatches        int64
	OldestPending         time.Duration
	CommitErrors          int64
	LastCommitError       string
	LastCommitErrorAt     time.Time
	CommittedRecordsTotal int64
}

// ForwardSnapshot is the forwarder's state.
type ForwardSnapshot struct {
	Sent, Duplicates, Quarantined, Retries int64
	LastSuccess                            time.Time
	Lag                                    time.Duration // age of the oldest unsent batch
}

// PluginSnapshot is one parser plugin's state.
type PluginSnapshot struct {
	Name     string
	Restarts int64
	Errors   int64
}

// metrics exports Snapshots to Prometheus. It reads a fresh snapshot per
// scrape, so the counters stay in the components that own them and the
// hot paths pay nothing for metrics.
type metrics struct {
	snap func() Snapshot
}

var _ prometheus.Collector = metrics{}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("cyberalarm_collector_"+name, help, labels, nil)
}

var (
	mInputLines       = desc("input_lines_total", "Lines (syslog messages or file lines) read, per input.", "input", "type")
	mInputBytes       = desc("input_bytes_total", "Bytes read, per input.", "input", "type")
	mInputOversize    = desc("input_oversize_total", "Messages longer than max_message_bytes, truncated, per input.", "input", "type")
	mInputRate        = desc("input_rate_limited_total", "Messages over the per-source rate: dropped for UDP, slowed for TCP and files.", "input", "type")
	mInputUDPDrops    = desc("input_udp_dropped_total", "Datagrams dropped because the pipeline was full.", "input", "type")
	mInputConns       = desc("input_connections", "Open TCP or TLS connections.", "input", "type")
	mInputFrameErrors = desc("input_frame_errors_total", "Malformed frames (bad octet counts, TLS handshake failures).", "input", "type")

	mParsed     = desc("events_parsed_total", "Lines parsed into events.")
	mNotEvents  = desc("lines_not_events_total", "Lines that are not events (routine messages, header lines).")
	mFailed     = desc("lines_failed_total", "Lines no parser could read.")
	mFiltered   = desc("events_filtered_total", "Events dropped by classification.", "reason")
	mDetections = desc("detections_total", "Detections emitted by the rules.")
	mSummaries  = desc("flow_summaries_total", "Flow summary records written.")
	mDropped    = desc("dropped_total", "Data dropped, by reason.", "reason")

	mQueue    = desc("queue_batches", "Batches waiting for a pipeline stage (an input batch holds up to 512 lines).", "stage")
	mQueueCap = desc("queue_capacity_batches", "Batches the queue before a pipeline stage holds.", "stage")

	mRuleGroups  = desc("rule_groups", "Live correlation groups.")
	mRuleEvicted = desc("rule_groups_evicted_total", "Correlation groups evicted over max_groups.")
	mRuleLate    = desc("rule_late_events_total", "Events too late for their correlation group.")
	mRuleErrors  = desc("rule_errors_total", "Rule conditions that failed to evaluate.")

	mBufBytes       = desc("buffer_bytes", "Size of the SQLite buffer on disk.")
	mBufLimit       = desc("buffer_limit_bytes", "Bound on the buffer's size.")
	mBufPending     = desc("buffer_pending_records", "Records not yet sealed into a batch.")
	mBufSealed      = desc("buffer_batches", "Sealed batches waiting to be sent.")
	mBufQuarantined = desc("buffer_quarantined_batches", "Batches central refused, kept on disk.")
	mBufCommitErr   = desc("buffer_commit_errors_total", "Failed buffer commits (full disk, read-only file).")

	mSent       = desc("forward_batches_sent_total", "Batches central accepted.")
	mDuplicates = desc("forward_batches_duplicate_total", "Batches central already had.")
	mRetries    = desc("forward_retries_total", "Send attempts that will be retried.")
	mLastSend   = desc("forward_last_success_timestamp_seconds", "When central last accepted a batch.")
	mLag        = desc("forward_lag_seconds", "Age of the oldest batch not yet sent.")

	mPluginRestarts = desc("plugin_restarts_total", "Parser plugin restarts.", "plugin")
	mPluginErrors   = desc("plugin_errors_total", "Parser plugin errors (crashes, timeouts, invalid events).", "plugin")

	mDeviceLastSeen = desc("device_last_seen_timestamp_seconds", "When a device last sent a line.", "device", "dataset")
	mDeviceLines    = desc("device_lines_total", "Lines from a device.", "device", "dataset")
)

func (m metrics) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

func (m metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.snap()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, in := range s.Inputs {
		counter(mInputLines, in.Lines, in.Name, in.Type)
		counter(mInputBytes, in.Bytes, in.Name, in.Type)
		counter(mInputOversize, in.Oversize, in.Name, in.Type)
		counter(mInputRate, in.RateDropped, in.Name, in.Type)
		counter(mInputUDPDrops, in.UDPDropped, in.Name, in.Type)
		gauge(mInputConns, float64(in.Connections), in.Name, in.Type)
		counter(mInputFrameErrors, in.FrameErrors, in.Name, in.Type)
	}
	c := s.Counts
	counter(mParsed, c.Parsed)
	counter(mNotEvents, c.NotEvents)
	counter(mFailed, c.Failed)
	counter(mFiltered, c.FilteredInternal, "internal")
	counter(mFiltered, c.FilteredTrusted, "trusted")
	counter(mDetections, c.Detections)
	counter(mSummaries, c.Summaries)
	counter(mDropped, c.DroppedOversize, "oversize")
	counter(mDropped, c.DroppedRate, "rate")
	counter(mDropped, c.DroppedUDP, "udp_queue_full")
	counter(mDropped, c.DroppedDisk, "disk_bound")

	gauge(mQueue, float64(s.QueueParse), "parse")
	gauge(mQueueCap, float64(s.QueueParseCap), "parse")
	gauge(mQueue, float64(s.QueueRules), "rules")
	gauge(mQueueCap, float64(s.QueueRulesCap), "rules")

	gauge(mRuleGroups, float64(s.RuleGroups))
	counter(mRuleEvicted, s.RuleEvicted)
	counter(mRuleLate, s.RuleLate)
	counter(mRuleErrors, s.RuleErrors)

	b := s.Buffer
	gauge(mBufBytes, float64(b.Bytes))
	gauge(mBufLimit, float64(b.Limit))
	gauge(mBufPending, float64(b.Pending))
	gauge(mBufSealed, float64(b.Sealed))
	gauge(mBufQuarantined, float64(b.Quarantined))
	counter(mBufCommitErr, b.CommitErrors)

	f := s.Forward
	counter(mSent, f.Sent)
	counter(mDuplicates, f.Duplicates)
	counter(mRetries, f.Retries)
	if !f.LastSuccess.IsZero() {
		gauge(mLastSend, float64(f.LastSuccess.UnixNano())/1e9)
	}
	gauge(mLag, f.Lag.Seconds())

	for _, p := range s.Plugins {
		counter(mPluginRestarts, p.Restarts, p.Name)
		counter(mPluginErrors, p.Errors, p.Name)
	}
	for _, d := range s.Devices {
		gauge(mDeviceLastSeen, float64(d.LastSeen.UnixNano())/1e9, d.Device, d.Dataset)
		counter(mDeviceLines, d.Lines, d.Device, d.Dataset)
	}
}
