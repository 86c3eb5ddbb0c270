package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed style.css
var styleCSS string

// Style is the stylesheet of CyberAlarm's printed documents, the inside of
// a <style> element. The member and analyst reports use it, and so does
// the Vulnerability Assessment Report (package scan): one look on screen
// and on paper.
func Style() template.CSS { return template.CSS(styleCSS) } //nolint:gosec // our own file, not input

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"style":   Style,
	"num":     func(n any) string { return groupDigits(toInt64(n)) },
	"delta":   delta,
	"pct":     pct,
	"score":   score,
	"when":    func(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 2 Jan 15:04") },
	"date":    func(t time.Time, loc *time.Location) string { return t.In(loc).Format("2 Jan 2006") },
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"span":    span,
	"place":   placeText,
	"network": networkText,
	"port":    portLabel,
	"ports":   portsText,
	"join":    strings.Join,
	"members": membersText,
	"plural":  func(n any, word string) string { return plural(toInt64(n), word) },
	"level":   severityLevel,
	"lower":   strings.ToLower,
	"fixed":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"growth":  func(n int) string { return plural(int64(n), "new member") + " in the last hour" },
	"int64":   func(n int) int64 { return int64(n) },
	"clusterGroups": func(sectors, regions []Cluster) []clusterGroup {
		return []clusterGroup{{"By sector", "Sector", sectors}, {"By region", "Region", regions}}
	},
}).ParseFS(templateFS, "templates/*.html"))

func toInt64(n any) int64 {
	switch v := n.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	}
	panic(fmt.Sprintf("report: num of %T", n)) // a template bug, caught by the golden tests
}

// delta says how now compares with before, in words.
func delta(now, before int64) string {
	switch {
	case before == 0 && now == 0:
		return "none in either period"
	case before == 0:
		return "none the period before"
	case now == before:
		return "the same as the period before"
	}
	p := math.Round(100 * math.Abs(float64(now-before)) / float64(before))
	dir := "up"
	if now < before {
		dir = "down"
	}
	return fmt.Sprintf("%s %s%% from %s", dir, strconv.FormatFloat(p, 'f', 0, 64), groupDigits(before))
}

// span writes a time span compactly: "Fri 27 Nov 14:02–14:32" within a
// day.
func span(first, last time.Time, loc *time.Location) string {
	f, l := first.In(loc), last.In(loc)
	if f.Equal(l) {
		return f.Format("Mon 2 Jan 15:04")
	}
	if f.YearDay() == l.YearDay() && f.Year() == l.Year() {
		return f.Format("Mon 2 Jan 15:04") + "–" + l.Format("15:04")
	}
	return f.Format("2 Jan 15:04") + " – " + l.Format("2 Jan 15:04")
}

// pct is part of total as a whole percentage, "–" for an empty total.
func pct(part, total int64) string {
	if total == 0 {
		return "–"
	}
	return strconv.FormatFloat(math.Round(100*float64(part)/float64(total)), 'f', 0, 64) + "%"
}

// score writes a targetedness in words and figures.
func score(s float64) string {
	switch {
	case math.IsNaN(s):
		return "not known"
	case s >= 0.5:
		return fmt.Sprintf("%.2f · aimed at you", s)
	case s >= 0.2:
		return fmt.Sprintf("%.2f · some others", s)
	}
	return fmt.Sprintf("%.2f · widespread", s)
}

func placeText(p Place) string {
	if p.Country == "" {
		return "unknown"
	}
	return p.CountryName
}

func networkText(p Place) string {
	if p.ASN == 0 {
		return "unknown"
	}
	if p.ASOrg == "" {
		return "AS" + strconv.FormatUint(uint64(p.ASN), 10)
	}
	return "AS" + strconv.FormatUint(uint64(p.ASN), 10) + " " + p.ASOrg
}

func portsText(ps []uint16) string {
	out := make([]string, 0, min(len(ps), 6))
	for i, p := range ps {
		if i == 6 {
			out = append(out, fmt.Sprintf("and %d more", len(ps)-6))
			break
		}
		out = append(out, portLabel(p))
	}
	return strings.Join(out, ", ")
}

// membersText is how many members saw a source, from this member's view.
func membersText(n int) string {
	switch n {
	case 0, 1:
		return "only you"
	case 2:
		return "you and 1 other"
	}
	return fmt.Sprintf("you and %d others", n-1)
}

type clusterGroup struct {
	Title, Key string
	Rows       []Cluster
}

// memberView is what the member template reads.
type memberView struct {
	*MemberReport
	Title          string
	Summary        []string
	DailyChart     template.HTML
	PortChart      template.HTML
	TechniqueChart template.HTML
	OriginChart    template.HTML
	Block          []BlockEntry // the first blockShown entries
	BlockMore      int
	Silent         int
}

// blockShown is how many block-list entries the document lists; the files
// hold them all.
const blockShown = 40

// RenderMember writes the member report as one self-contained HTML
// document.
func RenderMember(r *MemberReport) ([]byte, error) {
	v := memberView{MemberReport: r, Title: "Threat report for " + r.Member.Name}
	if r.Member.Name == "" {
		v.Title = "Threat report for " + r.Member.ID
	}
	for _, d := range r.Devices {
		if d.Silent {
			v.Silent++
		}
	}
	v.Summary = memberSummary(r, v.Silent)
	v.DailyChart = dailyChart("chart-daily", "Suspicious events per day", r.Daily)
	bars := make([]Bar, len(r.Ports))
	for i, p := range r.Ports {
		bars[i] = Bar{portLabel(p.Port), p.Events}
	}
	v.PortChart = barChart("chart-ports", "Events by targeted port", bars)
	bars = make([]Bar, len(r.Techniques))
	for i, t := range r.Techniques {
		bars[i] = Bar{t.Name, t.Events}
	}
	v.TechniqueChart = barChart("chart-techniques", "Events by kind of attack", bars)
	if r.Origins.Known && len(r.Origins.Countries) > 0 {
		bars = make([]Bar, len(r.Origins.Countries))
		for i, c := range r.Origins.Countries {
			bars[i] = Bar{c.Name, c.Events}
		}
		v.OriginChart = barChart("chart-countries", "Events by country of origin", bars)
	}
	v.Block = r.BlockList[:min(len(r.BlockList), blockShown)]
	v.BlockMore = len(r.BlockList) - len(v.Block)
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "member.html", v); err != nil {
		return nil, fmt.Errorf("report: rendering: %w", err)
	}
	return b.Bytes(), nil
}

// memberSummary is the report's opening, in plain words.
func memberSummary(r *MemberReport, silent int) []string {
	n := r.Now
	if n.Events == 0 && n.Detections == 0 {
		out := []string{"Nothing suspicious reached your network in this period."}
		if silent > 0 {
			out = append(out, fmt.Sprintf("But %s sent nothing for a while (see Devices): check they are still sending their logs, or this report cannot see what reached them.", plural(int64(silent), "device")))
		}
		return out
	}
	out := []string{fmt.Sprintf("%s reached your network from %s (%s).",
		capitalise(plural(n.Events, "suspicious event")), plural(n.Sources, "internet address"), delta(n.Events, r.Before.Events))}
	if n.Events > 0 {
		out = append(out, fmt.Sprintf("Your devices blocked %s of them; %s got through (allowed) and the rest were only seen.",
			pct(n.Blocked, n.Events), groupDigits(n.Allowed)))
	}
	var urgent []string
	for _, f := range r.Findings {
		if f.Severity >= 70 || f.Allowed > 0 {
			urgent = append(urgent, f.Name)
		}
	}
	switch len(urgent) {
	case 0:
		out = append(out, "No finding needs urgent action.")
	case 1:
		out = append(out, "One finding needs your attention: "+urgent[0]+". See “Findings and what to do”.")
	default:
		out = append(out, fmt.Sprintf("%d findings need your attention, starting with: %s. See “Findings and what to do”.",
			len(urgent), strings.Join(urgent[:min(3, len(urgent))], "; ")))
	}
	if len(r.Campaigns) > 0 {
		out = append(out, fmt.Sprintf("%s that also hit other members reached you.", capitalise(plural(int64(len(r.Campaigns)), "attack campaign"))))
	}
	if silent > 0 {
		out = append(out, fmt.Sprintf("%s stopped sending logs (see Devices).", capitalise(plural(int64(silent), "device"))))
	}
	return out
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// analystView is what the analyst template reads.
type analystView struct {
	*AnalystReport
	Title          string
	DailyChart     template.HTML
	SignatureChart template.HTML
}

// RenderAnalyst writes the analyst report as one self-contained HTML
// document.
func RenderAnalyst(r *AnalystReport) ([]byte, error) {
	v := analystView{AnalystReport: r, Title: "Analyst trend report"}
	v.DailyChart = dailyChart("chart-daily", "Suspicious events per day, all members", r.Daily)
	bars := make([]Bar, len(r.Signatures))
	for i, s := range r.Signatures {
		bars[i] = Bar{s.Name, s.Events}
	}
	v.SignatureChart = barChart("chart-signatures", "Events by rule", bars)
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "analyst.html", v); err != nil {
		return nil, fmt.Errorf("report: rendering: %w", err)
	}
	return b.Bytes(), nil
}
