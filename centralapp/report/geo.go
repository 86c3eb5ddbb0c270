package report

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Geo looks addresses up in MaxMind databases: a GeoLite2/GeoIP2 Country
// or City database for the country, an ASN database for the network. Either
// may be missing; what it would tell is then unknown. A nil *Geo knows
// nothing.
type Geo struct {
	country, asn *maxminddb.Reader
}

// Place is what the databases know of an address. Country is the ISO
// 3166-1 alpha-2 code, "" when unknown; ASN is 0 when unknown.
type Place struct {
	Country     string
	CountryName string
	ASN         uint32
	ASOrg       string
}

// UKCountry is the ISO code of the United Kingdom.
const UKCountry = "GB"

// OpenGeo opens the databases at the given paths; "" leaves one out.
func OpenGeo(countryPath, asnPath string) (*Geo, error) {
	g := &Geo{}
	var err error
	if countryPath != "" {
		if g.country, err = openDB(countryPath, "Country", "City"); err != nil {
			return nil, err
		}
	}
	if asnPath != "" {
		if g.asn, err = openDB(asnPath, "ASN"); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// openDB opens a database and checks that its type (GeoLite2-Country,
// GeoIP2-City, GeoLite2-ASN, …) ends with one of kinds, so that a database
// given for the wrong setting fails at once instead of knowing nothing.
func openDB(path string, kinds ...string) (*maxminddb.Reader, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	t := r.Metadata.DatabaseType
	for _, k := range kinds {
		if strings.HasSuffix(t, k) {
			return r, nil
		}
	}
	r.Close()
	return nil, fmt.Errorf("geoip database %s: type %q, want a %s database", path, t, kinds[0])
}

// HasCountry reports whether countries are known.
func (g *Geo) HasCountry() bool { return g != nil && g.country != nil }

// HasASN reports whether networks are known.
func (g *Geo) HasASN() bool { return g != nil && g.asn != nil }

// countryRecord is the part of a Country or City record used.
type countryRecord struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	// RegisteredCountry stands in for addresses without a located country
	// (anycast, satellite).
	RegisteredCountry struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"registered_country"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns what the databases know of a. An address a database does
// not cover (or cannot hold, such as IPv6 in an IPv4 database) is unknown,
// not an error; a corrupt record is.
func (g *Geo) Lookup(a netip.Addr) (Place, error) {
	var p Place
	if g == nil {
		return p, nil
	}
	a = a.Unmap()
	if g.country != nil {
		var rec countryRecord
		if err := lookup(g.country, a, &rec); err != nil {
			return p, err
		}
		c := rec.Country
		if c.ISOCode == "" {
			c = rec.RegisteredCountry
		}
		p.Country, p.CountryName = c.ISOCode, c.Names["en"]
		if p.CountryName == "" {
			p.CountryName = c.ISOCode
		}
	}
	if g.asn != nil {
		var rec asnRecord
		if err := lookup(g.asn, a, &rec); err != nil {
			return p, err
		}
		p.ASN, p.ASOrg = rec.Number, rec.Org
	}
	return p, nil
}

func lookup(r *maxminddb.Reader, a netip.Addr, v any) error {
	if a.Is6() && r.Metadata.IPVersion == 4 {
		return nil
	}
	res := r.Lookup(a)
	if err := res.Err(); err != nil {
		return fmt.Errorf("geoip lookup of %s: %w", a, err)
	}
	if !res.Found() {
		return nil
	}
	if err := res.Decode(v); err != nil {
		return fmt.Errorf("geoip record of %s: %w", a, err)
	}
	return nil
}

// Close closes the databases.
func (g *Geo) Close() error {
	if g == nil {
		return nil
	}
	var errs []error
	for _, r := range []*maxminddb.Reader{g.country, g.asn} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
