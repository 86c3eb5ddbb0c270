package aggregate

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// IndicatorFormat is the version of the indicator list's layout, named in
// its header.
const IndicatorFormat = 1

// Indicators renders the sources confirmed across members (the sources of
// campaigns last seen within CampaignTTL before now) as a list file the
// collector reads (detect.ParseList): a '#' header naming the format, the
// list's version and its expiry, then one address per line, sorted, each
// with a comment saying how many members saw it and when it was last seen.
// The version is now in Unix seconds, so later lists have higher versions.
// The output depends only on the state and now.
func (a *Aggregator) Indicators(now time.Time) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	since := now.Add(-a.cfg.CampaignTTL).UnixNano()
	until := now.UnixNano()
	type entry struct {
		addr    netip.Addr
		members int
		last    int64
	}
	var list []entry
	for addr, s := range a.allSources {
		e := entry{addr: addr}
		for _, x := range s.Sessions {
			if x.Qualified && x.Last >= since && x.First <= until {
				e.members = max(e.members, len(x.Members))
				e.last = max(e.last, min(x.Last, until))
			}
		}
		if e.members > 0 {
			list = append(list, e)
		}
	}
	slices.SortFunc(list, func(x, y entry) int { return x.addr.Compare(y.addr) })

	b := make([]byte, 0, 256+len(list)*64)
	b = append(b, "# CyberAlarm central indicator list, format "...)
	b = strconv.AppendInt(b, IndicatorFormat, 10)
	b = append(b, "\n# version: "...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, "\n# generated: "...)
	b = detect.AppendTimestamp(b, now.Truncate(time.Second))
	b = append(b, "\n# expires: "...)
	b = detect.AppendTimestamp(b, now.Add(a.cfg.CampaignTTL).Truncate(time.Second))
	b = append(b, "\n# sources seen at "...)
	b = strconv.AppendInt(b, int64(a.cfg.MinMembers), 10)
	b = append(b, " or more members within "...)
	b = append(b, shortDuration(a.cfg.Window)...)
	b = append(b, ": "...)
	b = strconv.AppendInt(b, int64(len(list)), 10)
	b = append(b, '\n')
	for _, e := range list {
		b = e.addr.AppendTo(b)
		b = append(b, " # members="...)
		b = strconv.AppendInt(b, int64(e.members), 10)
		b = append(b, " last_seen="...)
		b = detect.AppendTimestamp(b, time.Unix(0, e.last))
		b = append(b, '\n')
	}
	return b
}

// shortDuration writes d without zero minutes and seconds: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
