package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// ExportQuery selects what Export writes.
type ExportQuery struct {
	// MemberID limits member detections, or campaigns, to one member; ""
	// means all.
	MemberID string
	// Since keeps what was last seen at or after it; zero keeps all.
	Since time.Time
	// CrossMember writes cross-member detections (campaigns) instead of
	// member detections.
	CrossMember bool
}

// exportPage is how many detections Export reads at a time.
const exportPage = 10_000

// Export writes detections as JSON Lines, as `cyberalarm-central export
// detections` and GET /api/v1/detections do (DESIGN.md §3.5): a member
// detection is the §3.2 object its collector sent, byte for byte; a
// cross-member detection is a campaign as aggregate.Campaign.AppendJSON
// writes it. Member detections come in the order stored, campaigns newest
// first.
func Export(ctx context.Context, st store.Store, w io.Writer, q ExportQuery) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if q.CrossMember {
		cs, err := st.Campaigns(ctx, store.CampaignFilter{MemberID: q.MemberID, Since: q.Since, Limit: store.MaxLimit})
		if err != nil {
			return fmt.Errorf("export: campaigns: %w", err)
		}
		var line []byte
		for i := range cs {
			c := campaignOf(&cs[i])
			line = append(c.AppendJSON(line[:0]), '\n')
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		return bw.Flush()
	}
	f := store.DetectionFilter{MemberID: q.MemberID, Since: q.Since, Limit: exportPage}
	for {
		ds, err := st.Detections(ctx, f)
		if err != nil {
			return fmt.Errorf("export: detections: %w", err)
		}
		for _, d := range ds {
			bw.Write(d.Raw)
			if err := bw.WriteByte('\n'); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		if len(ds) < exportPage {
			return bw.Flush()
		}
		f.After = ds[len(ds)-1].ID
	}
}

// campaignOf is a stored campaign in the aggregator's export form.
func campaignOf(c *store.Campaign) aggregate.Campaign {
	a := aggregate.Campaign{
		ID:         c.ID,
		Source:     c.Source,
		FirstSeen:  c.FirstSeen,
		LastSeen:   c.LastSeen,
		Techniques: c.Techniques,
		Ports:      c.Ports,
		Count:      c.Count,
		Members:    make([]aggregate.MemberCount, len(c.Members)),
	}
	for i, m := range c.Members {
		a.Members[i] = aggregate.MemberCount{Member: m}
	}
	return a
}

// detections serves GET /api/v1/detections?member=&since=&cross_member=
// as Export writes them. A member account sees its own detections only,
// and no cross-member ones: they name the other members hit.
func (s *Server) detections(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFrom(r.Context())
	q := r.URL.Query()
	member, ok := s.scope(w, p, q.Get("member"))
	if !ok {
		return
	}
	var eq ExportQuery
	eq.MemberID = member
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since=%q: want an RFC 3339 time", v))
			return
		}
		eq.Since = t.UTC()
	}
	if v := q.Get("cross_member"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("cross_member=%q: want true or false", v))
			return
		}
		eq.CrossMember = b
	}
	if eq.CrossMember && p.Role == auth.RoleMember {
		writeError(w, http.StatusForbidden, "cross-member detections are for analysts")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	if err := Export(r.Context(), s.store, cw, eq); err != nil {
		if r.Context().Err() != nil {
			return
		}
		if cw.n == 0 {
			s.storeFailed(w, r, "export", err, "account", p.Account)
			return
		}
		// Part of the answer is out: cut the connection, so that the
		// client sees a broken export rather than a short one.
		s.log.Error("export failed mid-stream", "account", p.Account, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// scope resolves the member a principal's request may read, answering 403
// or 400 itself when it may not.
func (s *Server) scope(w http.ResponseWriter, p auth.Principal, requested string) (string, bool) {
	member, err := auth.ScopeMember(p, requested)
	switch {
	case errors.Is(err, auth.ErrInvalidMember):
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	case err != nil:
		s.log.Warn("member scope refused", "account", p.Account, "member", p.MemberID, "requested", requested)
		writeError(w, http.StatusForbidden, "forbidden")
		return "", false
	}
	return member, true
}

// memberJSON is a member in the API.
type memberJSON struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Sector   string    `json:"sector,omitempty"`
	Region   string    `json:"region,omitempty"`
	TimeZone string    `json:"time_zone,omitempty"`
	Created  time.Time `json:"created"`
}

// members serves GET /api/v1/members, for admins and analysts.
func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	ms, err := s.store.Members(r.Context())
	if err != nil {
		s.storeFailed(w, r, "members", err)
		return
	}
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{ID: m.ID, Name: m.Name, Sector: m.Sector, Region: m.Region, TimeZone: m.TimeZone, Created: m.Created.UTC()}
	}
	writeJSON(w, http.StatusOK, out)
}

// memberHealth is one member's collectors and devices.
type memberHealth struct {
	MemberID   string            `json:"member_id"`
	LastSeen   *time.Time        `json:"last_seen,omitempty"` // newest batch of any collector
	Collectors []collectorHealth `json:"collectors"`
}

type collectorHealth struct {
	ID           string               `json:"id"`
	Created      time.Time            `json:"created"`
	LastSeen     *time.Time           `json:"last_seen,omitempty"`
	Revoked      *time.Time           `json:"revoked,omitempty"`
	CertNotAfter time.Time            `json:"cert_not_after"`
	Version      string               `json:"version,omitempty"`
	Reported     *time.Time           `json:"reported,omitempty"` // time of the latest health report
	Counts       *detect.HealthCounts `json:"counts,omitempty"`
	Devices      []deviceHealth       `json:"devices"`
}

type deviceHealth struct {
	Device   string    `json:"device"`
	Dataset  string    `json:"dataset,omitempty"`
	LastSeen time.Time `json:"last_seen"`
}

// health serves GET /api/v1/health?member=: per member, its collectors,
// their devices and when each was last heard from. Members see their own.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFrom(r.Context())
	member, ok := s.scope(w, p, r.URL.Query().Get("member"))
	if !ok {
		return
	}
	chs, err := s.store.Health(r.Context(), member)
	if err != nil {
		s.storeFailed(w, r, "health", err, "account", p.Account)
		return
	}
	out := []memberHealth{}
	index := make(map[string]int) // member id → index in out
	for _, ch := range chs {
		c := ch.Collector
		i, ok := index[c.MemberID]
		if !ok {
			i = len(out)
			index[c.MemberID] = i
			out = append(out, memberHealth{MemberID: c.MemberID, Collectors: []collectorHealth{}})
		}
		mh := &out[i]
		h := collectorHealth{
			ID: c.ID, Created: c.Created.UTC(), LastSeen: optTime(c.LastSeen), Revoked: optTime(c.Revoked),
			CertNotAfter: c.CertNotAfter.UTC(), Devices: make([]deviceHealth, len(ch.Devices)),
		}
		if ch.Health != nil {
			h.Version, h.Reported, h.Counts = ch.Health.Version, optTime(ch.Health.Time), &ch.Health.Counts
		}
		for i, d := range ch.Devices {
			h.Devices[i] = deviceHealth{Device: d.Device, Dataset: d.Dataset, LastSeen: d.LastSeen.UTC()}
		}
		if h.LastSeen != nil && (mh.LastSeen == nil || h.LastSeen.After(*mh.LastSeen)) {
			mh.LastSeen = h.LastSeen
		}
		mh.Collectors = append(mh.Collectors, h)
	}
	writeJSON(w, http.StatusOK, out)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
