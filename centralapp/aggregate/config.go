package aggregate

import (
	"fmt"
	"strings"
	"time"
)

// Config tunes the aggregation. The zero value of a field means its
// default.
type Config struct {
	// MinMembers is how many distinct members must see a source, with
	// related techniques, within Window for a campaign (default 3).
	MinMembers int
	// Window is the campaign window (default 1h). It is also the session
	// gap: activity of a source no more than Window apart belongs to one
	// campaign.
	Window time.Duration
	// Lateness is how much later than the rest a member's data may reach
	// central and still count with it: unconfirmed campaign state is kept
	// Window+Lateness after data for it last arrived (processing time,
	// whatever its event time). The default, 72h, lets the backlog of a
	// collector that was offline over a weekend still make campaigns with
	// what the other members sent in the meantime.
	Lateness time.Duration
	// CampaignTTL is how long a campaign is kept after data for it last
	// arrived, and its source published as an indicator after it was last
	// seen (default 7 days).
	CampaignTTL time.Duration
	// Emerging is how new a source, port or signature must be to be an
	// emerging threat (default 24h). Source profiles, which targetedness
	// uses, are kept this long, or Window+Lateness if longer, after data
	// for the source last arrived.
	Emerging time.Duration
	// BaselineDays is how many days before today the trend baseline
	// spans (default 30).
	BaselineDays int
	// Relations maps technique ids to a relation group: techniques with
	// the same group are related. Without an entry, a technique's group is
	// its ATT&CK parent (T1110.001 and T1110 are both T1110). The table is
	// consulted for the technique, then for its parent.
	Relations map[string]string
	// MaxSources bounds the sources tracked (default 1<<20); beyond it the
	// ones that received data least recently are evicted.
	MaxSources int
	// MaxSessions bounds the campaign sessions tracked, across sources
	// (default 1<<21, about 300 bytes each when unconfirmed); beyond it the
	// unconfirmed ones that received data least recently are evicted
	// first. Lateness is what fills it: it holds Window+Lateness of
	// sessions.
	MaxSessions int
	// MaxTrendKeys bounds the keys tracked per trend dimension (default
	// 2048, at most about 16 KiB each); beyond it the least recently seen
	// are evicted.
	MaxTrendKeys int
	// Now is the processing clock (default time.Now): it stamps when Add
	// took data, which decides what is kept, and is the "now" that trend
	// and emerging-threat retention measure event times against.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int, name string) error {
		if *v < 0 {
			return fmt.Errorf("aggregate: %s %d must not be negative", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	defd := func(v *time.Duration, d time.Duration, name string) error {
		if *v < 0 {
			return fmt.Errorf("aggregate: %s %s must not be negative", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	for _, err := range []error{
		def(&c.MinMembers, 3, "MinMembers"),
		def(&c.BaselineDays, 30, "BaselineDays"),
		def(&c.MaxSources, 1<<20, "MaxSources"),
		def(&c.MaxSessions, 1<<21, "MaxSessions"),
		def(&c.MaxTrendKeys, 2048, "MaxTrendKeys"),
		defd(&c.Window, time.Hour, "Window"),
		defd(&c.Lateness, 72*time.Hour, "Lateness"),
		defd(&c.CampaignTTL, 7*24*time.Hour, "CampaignTTL"),
		defd(&c.Emerging, 24*time.Hour, "Emerging"),
	} {
		if err != nil {
			return c, err
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MinMembers < 2 {
		return c, fmt.Errorf("aggregate: MinMembers %d: a campaign needs at least 2 members", c.MinMembers)
	}
	for k, v := range c.Relations {
		if k == "" || v == "" {
			return c, fmt.Errorf("aggregate: relation %q → %q: empty technique or group", k, v)
		}
	}
	return c, nil
}

// group is the relation group of technique t.
func (c *Config) group(t string) string {
	if g, ok := c.Relations[t]; ok {
		return g
	}
	p := parent(t)
	if g, ok := c.Relations[p]; ok {
		return g
	}
	return p
}

// parent is an ATT&CK sub-technique's parent id (T1110.001 → T1110); other
// ids are their own parent.
func parent(t string) string {
	if len(t) > 1 && t[0] == 'T' {
		if i := strings.IndexByte(t, '.'); i > 1 {
			return t[:i]
		}
	}
	return t
}
