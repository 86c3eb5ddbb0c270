package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Windows and sizes of the pages.
const (
	overviewDays  = 7
	silentAfter   = 24 * time.Hour // a device not heard from for this long is silent
	detectionPage = 100
	topRows       = 8
)

// scope returns the member whose data req may see for requested (""
// meaning every member, for analysts). Another member's data is "not
// found", as is a member id that is not one.
func scope(req *request, requested string) (string, error) {
	m, err := auth.ScopeMember(req.who, requested)
	switch {
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrInvalidMember):
		return "", errNotFound
	case err != nil:
		return "", err
	}
	return m, nil
}

// window is the overview's: the last overviewDays days, today included,
// in UTC days.
func (w *Web) window() (since, until time.Time) {
	until = w.now().UTC()
	today := until.Truncate(24 * time.Hour)
	return today.AddDate(0, 0, -(overviewDays - 1)), until
}

// summary is what the overview and a member's page show of a window.
type summary struct {
	Since, Until time.Time
	Detections   int64 // stored detections
	Events       int64 // the events they count
	Sources      int
	Flows        int64 // events in flow summaries: suspicious, matched by no rule
	Campaigns    []store.Campaign
	Devices      int // devices heard from within silentAfter
	Silent       []silentDevice
	Chart        chart
	TopRules     []ruleRow
	TopSources   []sourceRow
	Techniques   []techniqueRow
	Recent       []store.Detection

	rollups []store.Rollup // the window's, which memberRows reuses for all members
}

type ruleRow struct {
	ID, Name   string
	Detections int64
	Events     int64
	Members    int
}

type sourceRow struct {
	Source     netip.Addr
	Detections int64
	Events     int64
	Members    int
	Techniques []string
	LastSeen   time.Time
}

type techniqueRow struct {
	ID         string
	Detections int64
}

type silentDevice struct {
	MemberID, Collector, Device, Dataset string
	LastSeen                             time.Time
}

// summarise reads member's window ("" for all members). The counts, the
// chart, the top rules, sources and techniques come from the hourly
// rollups, exact however many detections the window holds; the window
// starts on a UTC day, so its hours hold exactly its detections. A rule's
// name is its first detection's: the rollup with the lowest first id.
func (w *Web) summarise(r *http.Request, member string) (*summary, error) {
	ctx := r.Context()
	s := &summary{}
	s.Since, s.Until = w.window()
	rollups, err := w.store.Rollups(ctx, store.RollupFilter{MemberID: member, Since: s.Since})
	if err != nil {
		return nil, err
	}
	s.rollups = rollups
	perDay := make([]int64, overviewDays)
	rules := map[string]*ruleRow{}
	ruleMembers := map[string]map[string]bool{}
	ruleFirst := map[string]int64{}
	sources := map[netip.Addr]*sourceRow{}
	sourceMembers := map[netip.Addr]map[string]bool{}
	techs := map[string]int64{}
	for _, ru := range rollups {
		s.Detections += ru.Detections
		s.Events += ru.Count
		if day := int(ru.Hour.Sub(s.Since) / (24 * time.Hour)); day >= 0 && day < overviewDays {
			perDay[day] += ru.Detections
		}
		rr := rules[ru.RuleID]
		if rr == nil {
			rr = &ruleRow{ID: ru.RuleID}
			rules[ru.RuleID], ruleMembers[ru.RuleID] = rr, map[string]bool{}
		}
		rr.Detections += ru.Detections
		rr.Events += ru.Count
		ruleMembers[ru.RuleID][ru.MemberID] = true
		if first, ok := ruleFirst[ru.RuleID]; !ok || ru.FirstID < first {
			ruleFirst[ru.RuleID], rr.Name = ru.FirstID, ru.RuleName
		}
		for _, t := range ru.Techniques {
			techs[t] += ru.Detections
		}
		if !ru.Source.IsValid() {
			continue
		}
		sr := sources[ru.Source]
		if sr == nil {
			sr = &sourceRow{Source: ru.Source}
			sources[ru.Source], sourceMembers[ru.Source] = sr, map[string]bool{}
		}
		sr.Detections += ru.Detections
		sr.Events += ru.Count
		if ru.LastSeen.After(sr.LastSeen) {
			sr.LastSeen = ru.LastSeen
		}
		sourceMembers[ru.Source][ru.MemberID] = true
		for _, t := range ru.Techniques {
			if !slices.Contains(sr.Techniques, t) {
				sr.Techniques = append(sr.Techniques, t)
			}
		}
	}
	s.Sources = len(sources)
	for id, rr := range rules {
		rr.Members = len(ruleMembers[id])
		s.TopRules = append(s.TopRules, *rr)
	}
	slices.SortFunc(s.TopRules, func(a, b ruleRow) int {
		return cmp.Or(cmp.Compare(b.Detections, a.Detections), cmp.Compare(b.Events, a.Events), cmp.Compare(a.ID, b.ID))
	})
	s.TopRules = s.TopRules[:min(len(s.TopRules), topRows)]
	for src, sr := range sources {
		sr.Members = len(sourceMembers[src])
		s.TopSources = append(s.TopSources, *sr)
	}
	slices.SortFunc(s.TopSources, func(a, b sourceRow) int {
		return cmp.Or(cmp.Compare(b.Events, a.Events), cmp.Compare(b.Detections, a.Detections), a.Source.Compare(b.Source))
	})
	s.TopSources = s.TopSources[:min(len(s.TopSources), topRows)]
	for i := range s.TopSources {
		slices.Sort(s.TopSources[i].Techniques)
	}
	for id, n := range techs {
		s.Techniques = append(s.Techniques, techniqueRow{id, n})
	}
	slices.SortFunc(s.Techniques, func(a, b techniqueRow) int {
		return cmp.Or(cmp.Compare(b.Detections, a.Detections), cmp.Compare(a.ID, b.ID))
	})
	if s.Recent, err = w.recent(r, member, s.Since, rollups); err != nil {
		return nil, err
	}

	labels := make([]string, overviewDays)
	for i := range labels {
		labels[i] = s.Since.AddDate(0, 0, i).Format("Mon 2")
	}
	s.Chart = barChart("Detections per day, last 7 days", labels, perDay)

	counts, err := w.store.SummaryCounts(ctx, store.SummaryCountFilter{MemberID: member, Since: s.Since, Bucket: store.Day})
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		s.Flows += c.Count
	}
	if s.Campaigns, err = w.store.Campaigns(ctx, store.CampaignFilter{MemberID: member, Since: s.Since, Limit: store.MaxLimit}); err != nil {
		return nil, err
	}
	health, err := w.store.Health(ctx, member)
	if err != nil {
		return nil, err
	}
	for _, h := range health {
		if !h.Collector.Revoked.IsZero() {
			continue
		}
		for _, d := range h.Devices {
			if s.Until.Sub(d.LastSeen) <= silentAfter {
				s.Devices++
				continue
			}
			s.Silent = append(s.Silent, silentDevice{h.Collector.MemberID, h.Collector.ID, d.Device, d.Dataset, d.LastSeen})
		}
	}
	return s, nil
}

type overviewView struct {
	*summary
	Member  *store.Member // the viewer's member; nil for analysts
	Members []memberRow   // analysts: every member's figures
}

type memberRow struct {
	store.Member
	Detections int64
	Events     int64
	Collectors int
	LastBatch  time.Time
}

func (w *Web) overview(rw http.ResponseWriter, r *http.Request, req *request) error {
	member, err := scope(req, "")
	if err != nil {
		return err
	}
	s, err := w.summarise(r, member)
	if err != nil {
		return err
	}
	v := overviewView{summary: s}
	if member != "" {
		m, err := w.store.Member(r.Context(), member)
		if err != nil {
			return err
		}
		v.Member = &m
	} else if v.Members, err = w.memberRows(r, s.Since, s.rollups); err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "overview", newView(req, "Overview", "overview", v))
	return nil
}

// memberRows returns every member with its figures since since, from
// rollups, every member's since since; nil reads them.
func (w *Web) memberRows(r *http.Request, since time.Time, rollups []store.Rollup) ([]memberRow, error) {
	ctx := r.Context()
	ms, err := w.store.Members(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := w.store.Collectors(ctx, "")
	if err != nil {
		return nil, err
	}
	if rollups == nil {
		if rollups, err = w.store.Rollups(ctx, store.RollupFilter{Since: since}); err != nil {
			return nil, err
		}
	}
	rows := make([]memberRow, len(ms))
	at := map[string]*memberRow{}
	for i, m := range ms {
		rows[i].Member = m
		at[m.ID] = &rows[i]
	}
	for _, c := range cs {
		if mr := at[c.MemberID]; mr != nil && c.Revoked.IsZero() {
			mr.Collectors++
			if c.LastSeen.After(mr.LastBatch) {
				mr.LastBatch = c.LastSeen
			}
		}
	}
	for _, ru := range rollups {
		if mr := at[ru.MemberID]; mr != nil {
			mr.Detections += ru.Detections
			mr.Events += ru.Count
		}
	}
	return rows, nil
}

// recentRows is how many detections the overview lists as seen last.
const recentRows = 10

// recent returns the detections of member ("" for all) seen last since
// since, newest first, ties in the order stored. It reads only the latest
// hours that hold recentRows of them, which the rollups (by hour, oldest
// first) tell.
func (w *Web) recent(r *http.Request, member string, since time.Time, rollups []store.Rollup) ([]store.Detection, error) {
	from, n := since, int64(0) // rollups start at since, which is on the hour
	for i := len(rollups) - 1; i >= 0 && n < recentRows; i-- {
		n += rollups[i].Detections
		from = rollups[i].Hour
	}
	if n == 0 {
		return nil, nil
	}
	var ds []store.Detection
	f := store.DetectionFilter{MemberID: member, Since: from, Limit: store.MaxLimit}
	for {
		page, err := w.store.Detections(r.Context(), f)
		if err != nil {
			return nil, err
		}
		ds = append(ds, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ID
	}
	slices.SortStableFunc(ds, func(a, b store.Detection) int { return b.LastSeen.Compare(a.LastSeen) })
	return ds[:min(len(ds), recentRows)], nil
}

// detectionQuery is the detections page's filter, as the form shows it.
type detectionQuery struct {
	Member, Rule, Source, From, To string
	After                          int64
}

type detectionsView struct {
	Query   detectionQuery
	Members []store.Member // analysts: the member filter's choices
	Rows    []store.Detection
	Next    string // the next page's URL; "" on the last
	Error   string
}

func (w *Web) detections(rw http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	dq := detectionQuery{Member: q.Get("member"), Rule: q.Get("rule"), Source: q.Get("source"), From: q.Get("from"), To: q.Get("to")}
	v := detectionsView{Query: dq}
	member, err := scope(req, dq.Member)
	if err != nil {
		return err
	}
	since, until := w.window()
	if dq.From == "" {
		v.Query.From = since.Format(time.DateOnly)
	}
	if dq.To == "" {
		v.Query.To = until.Format(time.DateOnly)
	}
	f := store.DetectionFilter{MemberID: member, RuleID: dq.Rule, Limit: detectionPage}
	var problems []string
	if f.Since, err = time.Parse(time.DateOnly, v.Query.From); err != nil {
		problems = append(problems, fmt.Sprintf("“From” %q is not a date (YYYY-MM-DD).", dq.From))
	}
	if to, err := time.Parse(time.DateOnly, v.Query.To); err != nil {
		problems = append(problems, fmt.Sprintf("“To” %q is not a date (YYYY-MM-DD).", dq.To))
	} else {
		f.Until = to.AddDate(0, 0, 1) // the whole day
	}
	if dq.Source != "" {
		if f.Source, err = netip.ParseAddr(dq.Source); err != nil {
			problems = append(problems, fmt.Sprintf("“Source” %q is not an IP address.", dq.Source))
		} else {
			f.Source = f.Source.Unmap()
		}
	}
	if a := q.Get("after"); a != "" {
		if f.After, err = strconv.ParseInt(a, 10, 64); err != nil || f.After < 0 {
			problems = append(problems, "The page number is broken; start again from the first page.")
		}
	}
	if len(dq.Rule) > 200 {
		problems = append(problems, "“Rule” is too long.")
	}
	if req.who.Role != auth.RoleMember {
		if v.Members, err = w.store.Members(r.Context()); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if len(problems) > 0 {
		v.Error = problems[0]
		for _, p := range problems[1:] {
			v.Error += " " + p
		}
		status = http.StatusBadRequest
	} else {
		if v.Rows, err = w.store.Detections(r.Context(), f); err != nil {
			return err
		}
		if len(v.Rows) == detectionPage {
			next := url.Values{"after": {strconv.FormatInt(v.Rows[len(v.Rows)-1].ID, 10)}}
			for k, val := range map[string]string{"member": dq.Member, "rule": dq.Rule, "source": dq.Source, "from": v.Query.From, "to": v.Query.To} {
				if val != "" {
					next.Set(k, val)
				}
			}
			v.Next = "/detections?" + next.Encode()
		}
	}
	w.render(rw, r, status, "detections", newView(req, "Detections", "detections", v))
	return nil
}

type campaignsView struct {
	Rows []store.Campaign
}

func (w *Web) campaigns(rw http.ResponseWriter, r *http.Request, req *request) error {
	member, err := scope(req, "")
	if err != nil {
		return err
	}
	cs, err := w.store.Campaigns(r.Context(), store.CampaignFilter{MemberID: member, Limit: 500})
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "campaigns", newView(req, "Campaigns", "campaigns", campaignsView{Rows: cs}))
	return nil
}

type campaignView struct {
	store.Campaign
	Detections []store.Detection // the source's, that the viewer may see
}

func (w *Web) campaign(rw http.ResponseWriter, r *http.Request, req *request) error {
	member, err := scope(req, "")
	if err != nil {
		return err
	}
	// The store reads campaigns by filter only; there are few (they
	// expire after the campaign TTL).
	cs, err := w.store.Campaigns(r.Context(), store.CampaignFilter{MemberID: member, Limit: store.MaxLimit})
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cs, func(c store.Campaign) bool { return c.ID == r.PathValue("id") })
	if i < 0 {
		return errNotFound
	}
	v := campaignView{Campaign: cs[i]}
	if v.Detections, err = w.store.Detections(r.Context(), store.DetectionFilter{
		MemberID: member, Source: v.Source, Since: v.FirstSeen.Add(-24 * time.Hour), Limit: 500,
	}); err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "campaign", newView(req, "Campaign from "+v.Source.String(), "campaigns", v))
	return nil
}

func (w *Web) members(rw http.ResponseWriter, r *http.Request, req *request) error {
	if req.who.Role == auth.RoleMember {
		http.Redirect(rw, r, "/members/"+url.PathEscape(req.who.MemberID), http.StatusSeeOther)
		return nil
	}
	since, _ := w.window()
	rows, err := w.memberRows(r, since, nil)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "members", newView(req, "Members", "members", rows))
	return nil
}

type memberView struct {
	store.Member
	*summary
	Health  []store.CollectorHealth
	Reports []reportRow
}

func (w *Web) member(rw http.ResponseWriter, r *http.Request, req *request) error {
	id := r.PathValue("id")
	if !req.who.CanSee(id) || !store.ValidMemberID(id) {
		return errNotFound
	}
	m, err := w.store.Member(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	v := memberView{Member: m}
	if v.summary, err = w.summarise(r, id); err != nil {
		return err
	}
	if v.Health, err = w.store.Health(r.Context(), id); err != nil {
		return err
	}
	rs, err := w.store.Reports(r.Context(), id)
	if err != nil {
		return err
	}
	for _, rp := range rs {
		v.Reports = append(v.Reports, reportRow{rp, m.Name})
	}
	w.render(rw, r, http.StatusOK, "member", newView(req, m.Name, "members", v))
	return nil
}

// IsSilent reports whether a device has not been heard from for
// silentAfter.
func (v memberView) IsSilent(d store.DeviceSeen) bool { return v.Until.Sub(d.LastSeen) > silentAfter }
