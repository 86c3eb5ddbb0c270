package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Snapshot reads the state of every component.
func (d *Daemon) Snapshot() Snapshot {
	p := d.pipe
	s := Snapshot{Time: time.Now().UTC(), Started: d.started.UTC(), Devices: p.devices.snapshot()}
	var inputs detect.HealthCounts
	for _, in := range d.inputs {
		st := in.Stats()
		is := InputSnapshot{
			Name: in.Name(), Type: in.typ,
			Lines: int64(st.Lines.Load()), Bytes: int64(st.Bytes.Load()), Oversize: int64(st.Oversize.Load()),
			RateDropped: int64(st.RateDropped.Load()),
			UDPDropped:  int64(st.QueueDropped.Load() + st.KernelDropped.Load()),
			Connections: st.Connections.Load(), FrameErrors: int64(st.Errors.Load()),
		}
		s.Inputs = append(s.Inputs, is)
		inputs.DroppedOversize += is.Oversize
		inputs.DroppedRate += is.RateDropped
		inputs.DroppedUDP += is.UDPDropped
	}
	c := &p.counts
	s.Counts = detect.HealthCounts{
		LinesIn: c.lines.Load(), Parsed: c.parsed.Load(), NotEvents: c.notEvents.Load(), Failed: c.failed.Load(),
		FilteredInternal: c.internal.Load(), FilteredTrusted: c.trusted.Load(),
		Detections: c.detections.Load(), Summaries: c.summaries.Load(),
		DroppedOversize: inputs.DroppedOversize, DroppedRate: inputs.DroppedRate, DroppedUDP: inputs.DroppedUDP,
		DroppedDisk: c.droppedHeld.Load(),
	}
	for _, w := range p.work {
		s.QueueParse += len(w)
		s.QueueParseCap += cap(w)
	}
	s.QueueRules, s.QueueRulesCap = len(p.events), cap(p.events)
	s.RuleGroups = int(c.ruleGroups.Load())
	s.RuleEvicted, s.RuleLate, s.RuleErrors = c.ruleEvicted.Load(), c.ruleLate.Load(), c.ruleErrors.Load()

	s.Buffer.CommitErrors = c.commitErrors.Load()
	if e := p.commitErr.Load(); e != nil {
		s.Buffer.LastCommitError, s.Buffer.LastCommitErrorAt = e.msg, e.at
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if bs, err := d.buf.Stats(ctx); err == nil {
		s.Buffer.Bytes, s.Buffer.Limit = bs.Bytes, bs.MaxBytes
		s.Buffer.Pending, s.Buffer.Sealed, s.Buffer.Quarantined = bs.PendingRecords, bs.SealedBatches, bs.Quarantined
		s.Buffer.DroppedRecords, s.Buffer.DroppedBatches = bs.DroppedRecords, bs.DroppedBatches
		if !bs.OldestPending.IsZero() {
			s.Buffer.OldestPending = s.Time.Sub(bs.OldestPending)
		}
		s.Counts.DroppedDisk += bs.DroppedRecords
		s.Counts.Quarantined = bs.QuarantinedTotal
	}
	if d.fwd != nil {
		fs := d.fwd.Stats()
		s.Forward = ForwardSnapshot{Sent: fs.Sent, Duplicates: fs.Duplicates, Quarantined: fs.Quarantined,
			Retries: fs.Retries, LastSuccess: fs.LastSuccess, Lag: fs.SendLag}
	}
	if d.opts.Plugins != nil {
		for _, pl := range d.opts.Plugins.Plugins() {
			st := pl.Stats()
			s.Plugins = append(s.Plugins, PluginSnapshot{Name: pl.Name(), Restarts: st.Restarts, Errors: st.Crashes + st.Timeouts})
		}
	}
	return s
}

// health is the record that leaves with every batch.
func (d *Daemon) health() *detect.Health {
	s := d.Snapshot()
	return &detect.Health{
		Time: s.Time, Started: s.Started, Version: d.opts.Version,
		Devices: s.Devices, Counts: s.Counts, Buffer: s.Buffer.Bytes, BufferLimit: s.Buffer.Limit,
	}
}

// healthz answers 200 while the collector works, and 503 with the reason
// when the buffer refuses writes. The body lists every device with the
// time it was last seen.
func (d *Daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	s := d.Snapshot()
	type device struct {
		Device   string    `json:"device"`
		Dataset  string    `json:"dataset,omitempty"`
		Input    string    `json:"input,omitempty"`
		LastSeen time.Time `json:"last_seen"`
		Silent   string    `json:"silent_for"`
		Lines    int64     `json:"lines"`
	}
	body := struct {
		Status   string              `json:"status"`
		Problems []string            `json:"problems,omitempty"`
		Started  time.Time           `json:"started"`
		Counts   detect.HealthCounts `json:"counts"`
		Buffer   BufferSnapshot      `json:"buffer"`
		Forward  *ForwardSnapshot    `json:"forward,omitempty"`
		Devices  []device            `json:"devices"`
	}{Status: "ok", Started: s.Started, Counts: s.Counts, Buffer: s.Buffer, Devices: []device{}}
	if d.fwd != nil {
		body.Forward = &s.Forward
	}
	if e := s.Buffer.LastCommitError; e != "" && s.Time.Sub(s.Buffer.LastCommitErrorAt) < time.Minute {
		body.Status = "degraded"
		body.Problems = append(body.Problems, "buffer: "+e)
	}
	for _, dv := range s.Devices {
		body.Devices = append(body.Devices, device{dv.Device, dv.Dataset, dv.Input, dv.LastSeen,
			s.Time.Sub(dv.LastSeen).Round(time.Second).String(), dv.Lines})
	}
	w.Header().Set("Content-Type", "application/json")
	if body.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(body) //nolint:errcheck // the client went away
}
