package report

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// A MaxMind DB writer, just enough to make test databases: an IPv6 search
// tree with 24-bit records (IPv4 under ::/96, as MaxMind lays it out), and
// maps, strings and unsigned integers in the data section. It follows the
// MaxMind DB format spec, version 2.0.

type mmdbNode struct {
	child [2]*mmdbNode
	data  [2]int // index+1 into the records; 0 for none
}

type mmdbWriter struct {
	dbType  string
	root    *mmdbNode
	records [][]byte
}

func newMMDB(dbType string) *mmdbWriter {
	return &mmdbWriter{dbType: dbType, root: &mmdbNode{}}
}

// insert maps prefix (which must not overlap another) to record.
func (w *mmdbWriter) insert(prefix string, record map[string]any) {
	p := netip.MustParsePrefix(prefix)
	a, bits := p.Addr().As16(), p.Bits()
	if p.Addr().Is4() {
		a = [16]byte{}
		v4 := p.Addr().As4()
		copy(a[12:], v4[:])
		bits += 96
	}
	w.records = append(w.records, encode(nil, record))
	n := w.root
	for i := 0; i < bits; i++ {
		bit := a[i/8] >> (7 - i%8) & 1
		if i == bits-1 {
			n.data[bit] = len(w.records)
			return
		}
		if n.child[bit] == nil {
			n.child[bit] = &mmdbNode{}
		}
		n = n.child[bit]
	}
}

func (w *mmdbWriter) bytes() []byte {
	var nodes []*mmdbNode
	ids := map[*mmdbNode]int{}
	for queue := []*mmdbNode{w.root}; len(queue) > 0; queue = queue[1:] {
		n := queue[0]
		ids[n] = len(nodes)
		nodes = append(nodes, n)
		for _, c := range n.child {
			if c != nil {
				queue = append(queue, c)
			}
		}
	}
	var data []byte
	offsets := make([]int, len(w.records))
	for i, r := range w.records {
		offsets[i] = len(data)
		data = append(data, r...)
	}
	count := len(nodes)
	var out []byte
	for _, n := range nodes {
		for side := range 2 {
			v := count // no data
			switch {
			case n.child[side] != nil:
				v = ids[n.child[side]]
			case n.data[side] != 0:
				v = count + 16 + offsets[n.data[side]-1]
			}
			out = append(out, byte(v>>16), byte(v>>8), byte(v))
		}
	}
	out = append(out, make([]byte, 16)...)
	out = append(out, data...)
	out = append(out, "\xAB\xCD\xEFMaxMind.com"...)
	return encode(out, map[string]any{
		"node_count": uint32(count), "record_size": uint16(24), "ip_version": uint16(6),
		"database_type": w.dbType, "languages": []any{"en"}, "binary_format_major_version": uint16(2),
		"binary_format_minor_version": uint16(0), "build_epoch": uint64(1795737600),
		"description": map[string]any{"en": "CyberAlarm test database"},
	})
}

// encode appends v in the MaxMind DB data format.
func encode(b []byte, v any) []byte {
	ctrl := func(b []byte, typ, size int) []byte {
		ext := typ > 7
		first := typ << 5
		if ext {
			first = 0
		}
		var tail []byte
		switch {
		case size < 29:
			first |= size
		case size < 285:
			first |= 29
			tail = []byte{byte(size - 29)}
		default:
			first |= 30
			tail = binary.BigEndian.AppendUint16(nil, uint16(size-285))
		}
		b = append(b, byte(first))
		if ext {
			b = append(b, byte(typ-7))
		}
		return append(b, tail...)
	}
	uint := func(b []byte, typ int, x uint64) []byte {
		var n []byte
		for ; x > 0; x >>= 8 {
			n = append([]byte{byte(x)}, n...)
		}
		return append(ctrl(b, typ, len(n)), n...)
	}
	switch x := v.(type) {
	case string:
		return append(ctrl(b, 2, len(x)), x...)
	case uint16:
		return uint(b, 5, uint64(x))
	case uint32:
		return uint(b, 6, uint64(x))
	case uint64:
		return uint(b, 9, x)
	case []any:
		b = ctrl(b, 11, len(x))
		for _, e := range x {
			b = encode(b, e)
		}
		return b
	case map[string]any:
		b = ctrl(b, 7, len(x))
		// Key order does not matter to readers; sorted keeps the file stable.
		for _, k := range sortedKeys(x) {
			b = encode(b, k)
			b = encode(b, x[k])
		}
		return b
	}
	panic("mmdb: cannot encode a value of this type")
}

func sortedKeys(m map[string]any) []string {
	s := set{}
	for k := range m {
		s.add(k)
	}
	return sortedSet(s)
}

func country(code, name string) map[string]any {
	return map[string]any{"country": map[string]any{"iso_code": code, "names": map[string]any{"en": name}}}
}

// testGeo writes a Country and an ASN database covering the test data's
// sources and opens them.
func testGeo(t *testing.T) *Geo {
	t.Helper()
	dir := t.TempDir()
	c := newMMDB("GeoLite2-Country")
	c.insert("81.2.69.0/24", country("GB", "United Kingdom"))
	c.insert("185.220.101.0/24", country("DE", "Germany"))
	c.insert("45.155.205.0/24", country("NL", "Netherlands"))
	c.insert("2001:db8:bad::/48", country("CN", "China"))
	as := newMMDB("GeoLite2-ASN")
	as.insert("81.2.69.0/24", map[string]any{"autonomous_system_number": uint32(20712), "autonomous_system_organization": "Andrews & Arnold Ltd"})
	as.insert("185.220.101.0/24", map[string]any{"autonomous_system_number": uint32(60729), "autonomous_system_organization": "Zwiebelfreunde e.V."})
	cp, ap := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(cp, c.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ap, as.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := OpenGeo(cp, ap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestGeo(t *testing.T) {
	g := testGeo(t)
	for _, tc := range []struct {
		addr string
		want Place
	}{
		{"81.2.69.142", Place{Country: "GB", CountryName: "United Kingdom", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{"::ffff:81.2.69.1", Place{Country: "GB", CountryName: "United Kingdom", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{"185.220.101.7", Place{Country: "DE", CountryName: "Germany", ASN: 60729, ASOrg: "Zwiebelfreunde e.V."}},
		{"2001:db8:bad:1::5", Place{Country: "CN", CountryName: "China"}},
		{"203.0.113.9", Place{}},
		{"2001:db8:1::1", Place{}},
	} {
		got, err := g.Lookup(netip.MustParseAddr(tc.addr))
		if err != nil || got != tc.want {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", tc.addr, got, err, tc.want)
		}
	}
	var none *Geo
	if p, err := none.Lookup(netip.MustParseAddr("81.2.69.142")); err != nil || p != (Place{}) || none.HasCountry() {
		t.Errorf("nil Geo: %+v, %v", p, err)
	}
}

func TestGeoRefusesWrongDatabase(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "asn.mmdb")
	w := newMMDB("GeoLite2-ASN")
	w.insert("81.2.69.0/24", map[string]any{"autonomous_system_number": uint32(1)})
	if err := os.WriteFile(p, w.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGeo(p, ""); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`type "GeoLite2-ASN", want a Country database`)) {
		t.Errorf("an ASN database as the country database: %v", err)
	}
	if _, err := OpenGeo(filepath.Join(dir, "missing.mmdb"), ""); err == nil {
		t.Error("a missing database opened")
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.mmdb"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGeo(filepath.Join(dir, "junk.mmdb"), ""); err == nil {
		t.Error("a junk file opened as a database")
	}
}
