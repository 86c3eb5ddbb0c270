package plugins

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// The packed encodings that carry a batch across the process boundary. A
// protobuf message per event cost more than the parsing itself, so a batch
// is one bytes field in this format instead.
//
// Lines: version byte, uvarint count, then per line a uvarint length and
// the bytes.
//
// Results: version byte, uvarint count, then per line a kind byte:
//   - resultEvent: a uvarint bitmap of the fields present, then each
//     present field in bit order: strings and integers as (u)varints with
//     strings length-prefixed, addresses as a kind byte (4, 6, or 7 for
//     IPv6 with a zone string) and 4 or 16 bytes, the time stamp as varint
//     Unix seconds and uvarint nanoseconds;
//   - resultNotEvent and resultError: a length-prefixed message.
//
// A decoder trusts nothing: any malformed input is an error, never a panic
// or an allocation larger than the input.
const (
	linesVersion   = 1
	resultsVersion = 1
)

// Result kinds.
const (
	resultEvent    = 0
	resultNotEvent = 1
	resultError    = 2
)

// Event field bits, in encoding order.
const (
	fTimestamp = iota
	fCategory
	fType
	fAction
	fOutcome
	fDataset
	fCode
	fSeverity
	fVendor
	fProduct
	fHostname
	fSrcIP
	fSrcPort
	fSrcBytes
	fSrcNAT
	fDstIP
	fDstPort
	fDstBytes
	fDstNAT
	fTransport
	fProtocol
	fDirection
	fNetBytes
	fPackets
	fRuleName
	fRuleID
	fRuleCategory
	fUserName
	fURLPath
	fHTTPMethod
	fHTTPStatus
	fUserAgent
	fIndicator
	numFields
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("plugins: corrupt batch")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// AppendLines appends the packed form of lines to dst.
func AppendLines(dst []byte, lines [][]byte) []byte {
	dst = append(dst, linesVersion)
	dst = binary.AppendUvarint(dst, uint64(len(lines)))
	for _, l := range lines {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		dst = append(dst, l...)
	}
	return dst
}

// DecodeLines appends the lines packed in b to dst. The lines alias b.
func DecodeLines(dst [][]byte, b []byte) ([][]byte, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != linesVersion {
		return dst, corrupt("lines encoding version %d, want %d", v, linesVersion)
	}
	n := d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		dst = append(dst, d.bytes())
	}
	if err := d.end(); err != nil {
		return dst, err
	}
	return dst, nil
}

// ResultWriter packs parse results, one per line. Its zero value is ready
// to use.
type ResultWriter struct {
	buf []byte // headerRoom bytes for the header, then the results
	n   int
}

// headerRoom is the space kept for the header: version and count.
const headerRoom = 1 + binary.MaxVarintLen64

// Reset starts a new batch, keeping the buffer.
func (w *ResultWriter) Reset() { w.buf, w.n = w.buf[:0], 0 }

// Add appends one line's result: the event when err is nil, otherwise the
// error, which keeps whether it is detect.ErrNotEvent.
func (w *ResultWriter) Add(ev *detect.Event, err error) {
	if len(w.buf) == 0 {
		w.buf = append(w.buf, make([]byte, headerRoom)...)
	}
	w.n++
	switch {
	case err == nil:
		w.buf = append(w.buf, resultEvent)
		w.buf = appendEvent(w.buf, ev)
	case errors.Is(err, detect.ErrNotEvent):
		w.buf = append(w.buf, resultNotEvent)
		w.buf = appendString(w.buf, err.Error())
	default:
		w.buf = append(w.buf, resultError)
		w.buf = appendString(w.buf, err.Error())
	}
}

// Bytes returns the packed batch: header and results. It is valid until the
// next Reset or Add.
func (w *ResultWriter) Bytes() []byte {
	if len(w.buf) == 0 {
		w.buf = append(w.buf, make([]byte, headerRoom)...)
	}
	var hdr [headerRoom]byte
	hdr[0] = resultsVersion
	n := 1 + binary.PutUvarint(hdr[1:], uint64(w.n))
	start := headerRoom - n
	copy(w.buf[start:], hdr[:n])
	return w.buf[start:]
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	switch {
	case a.Is4():
		b := a.As4()
		return append(append(dst, 4), b[:]...)
	case a.Zone() != "":
		b := a.As16()
		return appendString(append(append(dst, 7), b[:]...), a.Zone())
	default:
		b := a.As16()
		return append(append(dst, 6), b[:]...)
	}
}

func appendEvent(dst []byte, e *detect.Event) []byte {
	var m uint64
	set := func(bit int, ok bool) {
		if ok {
			m |= 1 << bit
		}
	}
	set(fTimestamp, !e.Timestamp.IsZero())
	set(fCategory, e.Category != "")
	set(fType, e.Type != "")
	set(fAction, e.Action != "")
	set(fOutcome, e.Outcome != "")
	set(fDataset, e.Dataset != "")
	set(fCode, e.Code != "")
	set(fSeverity, e.Severity != 0)
	set(fVendor, e.Observer.Vendor != "")
	set(fProduct, e.Observer.Product != "")
	set(fHostname, e.Observer.Hostname != "")
	set(fSrcIP, e.Source.IP.IsValid())
	set(fSrcPort, e.Source.Port != 0)
	set(fSrcBytes, e.Source.Bytes.Valid)
	set(fSrcNAT, e.Source.NATIP.IsValid())
	set(fDstIP, e.Destination.IP.IsValid())
	set(fDstPort, e.Destination.Port != 0)
	set(fDstBytes, e.Destination.Bytes.Valid)
	set(fDstNAT, e.Destination.NATIP.IsValid())
	set(fTransport, e.Network.Transport != "")
	set(fProtocol, e.Network.Protocol != "")
	set(fDirection, e.Network.Direction != "")
	set(fNetBytes, e.Network.Bytes.Valid)
	set(fPackets, e.Network.Packets.Valid)
	set(fRuleName, e.Rule.Name != "")
	set(fRuleID, e.Rule.ID != "")
	set(fRuleCategory, e.Rule.Category != "")
	set(fUserName, e.UserName != "")
	set(fURLPath, e.URLPath != "")
	set(fHTTPMethod, e.HTTPMethod != "")
	set(fHTTPStatus, e.HTTPStatus != 0)
	set(fUserAgent, e.UserAgent != "")
	set(fIndicator, e.Indicator != "")
	dst = binary.AppendUvarint(dst, m)

	str := func(bit int, s string) {
		if m&(1<<bit) != 0 {
			dst = appendString(dst, s)
		}
	}
	num := func(bit int, n int64) {
		if m&(1<<bit) != 0 {
			dst = binary.AppendVarint(dst, n)
		}
	}
	addr := func(bit int, a netip.Addr) {
		if m&(1<<bit) != 0 {
			dst = appendAddr(dst, a)
		}
	}
	if m&(1<<fTimestamp) != 0 {
		dst = binary.AppendVarint(dst, e.Timestamp.Unix())
		dst = binary.AppendUvarint(dst, uint64(e.Timestamp.Nanosecond()))
	}
	str(fCategory, e.Category)
	str(fType, e.Type)
	str(fAction, e.Action)
	str(fOutcome, e.Outcome)
	str(fDataset, e.Dataset)
	str(fCode, e.Code)
	num(fSeverity, int64(e.Severity))
	str(fVendor, e.Observer.Vendor)
	str(fProduct, e.Observer.Product)
	str(fHostname, e.Observer.Hostname)
	addr(fSrcIP, e.Source.IP)
	num(fSrcPort, int64(e.Source.Port))
	num(fSrcBytes, e.Source.Bytes.N)
	addr(fSrcNAT, e.Source.NATIP)
	addr(fDstIP, e.Destination.IP)
	num(fDstPort, int64(e.Destination.Port))
	num(fDstBytes, e.Destination.Bytes.N)
	addr(fDstNAT, e.Destination.NATIP)
	str(fTransport, e.Network.Transport)
	str(fProtocol, e.Network.Protocol)
	str(fDirection, e.Network.Direction)
	num(fNetBytes, e.Network.Bytes.N)
	num(fPackets, e.Network.Packets.N)
	str(fRuleName, e.Rule.Name)
	str(fRuleID, e.Rule.ID)
	str(fRuleCategory, e.Rule.Category)
	str(fUserName, e.UserName)
	str(fURLPath, e.URLPath)
	str(fHTTPMethod, e.HTTPMethod)
	num(fHTTPStatus, int64(e.HTTPStatus))
	str(fUserAgent, e.UserAgent)
	str(fIndicator, e.Indicator)
	return dst
}

// ResultReader unpacks parse results. Its Interner keeps the strings that
// repeat on every event (category, vendor, host name) allocated once.
type ResultReader struct {
	d    decoder
	n, i uint64
	strs lex.Interner
	last [numFields]string // each field's last value: most repeat the line before's
}

// Reset starts reading the packed batch b and returns its result count.
func (r *ResultReader) Reset(b []byte) (int, error) {
	r.d = decoder{b: b}
	r.i = 0
	if v := r.d.byte(); r.d.err == nil && v != resultsVersion {
		return 0, corrupt("results encoding version %d, want %d", v, resultsVersion)
	}
	r.n = r.d.count()
	if r.n == 0 {
		return 0, r.d.end()
	}
	return int(r.n), nil
}

// Next decodes the next result into ev, which it resets. It returns the
// line's parse error (nil for an event), or a decoding error wrapping
// ErrCorrupt, after which the rest of the batch is unreadable.
func (r *ResultReader) Next(ev *detect.Event) (lineErr, err error) {
	if r.i >= r.n {
		return nil, corrupt("read past the batch's %d results", r.n)
	}
	r.i++
	ev.Reset()
	d := &r.d
	switch kind := d.byte(); kind {
	case resultEvent:
		r.event(ev)
	case resultNotEvent:
		msg := d.string(&r.strs)
		lineErr = notEvent(msg)
	case resultError:
		lineErr = errors.New(d.string(&r.strs))
	default:
		if d.err == nil {
			d.err = corrupt("unknown result kind %d", kind)
		}
	}
	if d.err == nil && r.i == r.n {
		d.err = d.end()
	}
	if d.err != nil {
		return nil, d.err
	}
	return lineErr, nil
}

// notEvent is a plugin's ErrNotEvent, with its message.
type notEvent string

func (e notEvent) Error() string { return string(e) }
func (e notEvent) Is(target error) bool {
	return target == detect.ErrNotEvent
}

func (r *ResultReader) event(e *detect.Event) {
	d := &r.d
	m := d.uvarint()
	if m >= 1<<numFields {
		d.fail("unknown event fields %#x", m>>numFields<<numFields)
		return
	}
	has := func(bit int) bool { return m&(1<<bit) != 0 && d.err == nil }
	str := func(bit int, s *string) {
		if has(bit) {
			b := d.bytes()
			if string(b) != r.last[bit] {
				r.last[bit] = r.strs.Bytes(b)
			}
			*s = r.last[bit]
		}
	}
	num := func(bit int, min, max int64) int64 {
		if !has(bit) {
			return 0
		}
		n := d.varint()
		if n < min || n > max {
			d.fail("field %d: %d out of range", bit, n)
			return 0
		}
		return n
	}
	count := func(bit int, c *detect.Count) {
		if has(bit) {
			*c = detect.SetCount(d.varint())
		}
	}
	addr := func(bit int, a *netip.Addr) {
		if has(bit) {
			*a = d.addr()
		}
	}
	if has(fTimestamp) {
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail("time stamp nanoseconds %d out of range", nsec)
		}
		e.Timestamp = time.Unix(sec, int64(nsec)).UTC()
	}
	str(fCategory, &e.Category)
	str(fType, &e.Type)
	str(fAction, &e.Action)
	str(fOutcome, &e.Outcome)
	str(fDataset, &e.Dataset)
	str(fCode, &e.Code)
	e.Severity = int(num(fSeverity, -1<<31, 1<<31-1))
	str(fVendor, &e.Observer.Vendor)
	str(fProduct, &e.Observer.Product)
	str(fHostname, &e.Observer.Hostname)
	addr(fSrcIP, &e.Source.IP)
	e.Source.Port = uint16(num(fSrcPort, 0, 65535))
	count(fSrcBytes, &e.Source.Bytes)
	addr(fSrcNAT, &e.Source.NATIP)
	addr(fDstIP, &e.Destination.IP)
	e.Destination.Port = uint16(num(fDstPort, 0, 65535))
	count(fDstBytes, &e.Destination.Bytes)
	addr(fDstNAT, &e.Destination.NATIP)
	str(fTransport, &e.Network.Transport)
	str(fProtocol, &e.Network.Protocol)
	str(fDirection, &e.Network.Direction)
	count(fNetBytes, &e.Network.Bytes)
	count(fPackets, &e.Network.Packets)
	str(fRuleName, &e.Rule.Name)
	str(fRuleID, &e.Rule.ID)
	str(fRuleCategory, &e.Rule.Category)
	str(fUserName, &e.UserName)
	str(fURLPath, &e.URLPath)
	str(fHTTPMethod, &e.HTTPMethod)
	e.HTTPStatus = int(num(fHTTPStatus, -1<<31, 1<<31-1))
	str(fUserAgent, &e.UserAgent)
	str(fIndicator, &e.Indicator)
}

// decoder reads a packed batch; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt("at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads an element count, which cannot exceed the bytes left since
// every element takes at least one byte.
func (d *decoder) count() uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.off) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b)-d.off)
		return 0
	}
	return n
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b)-d.off)
		return nil
	}
	b := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *decoder) string(in *lex.Interner) string {
	return in.Bytes(d.bytes())
}

func (d *decoder) addr() netip.Addr {
	kind := d.byte()
	if d.err != nil {
		return netip.Addr{}
	}
	switch kind {
	case 4:
		if len(d.b)-d.off < 4 {
			d.fail("truncated IPv4 address")
			return netip.Addr{}
		}
		a := netip.AddrFrom4([4]byte(d.b[d.off:]))
		d.off += 4
		return a
	case 6, 7:
		if len(d.b)-d.off < 16 {
			d.fail("truncated IPv6 address")
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(d.b[d.off:]))
		d.off += 16
		if kind == 7 {
			zone := string(d.bytes())
			if zone == "" {
				d.fail("empty IPv6 zone")
			}
			a = a.WithZone(zone)
		}
		return a
	default:
		d.fail("unknown address kind %d", kind)
		return netip.Addr{}
	}
}

func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the last result", len(d.b)-d.off)
	}
	return d.err
}
