package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// DecodeBatch decodes a §3.4 batch, the decompressed body of POST
// /api/v1/batches, as encoding/json with DisallowUnknownFields decodes a
// detect.Batch: keys match case-insensitively, null leaves a field unset,
// and nothing but white space may follow the object. Like DecodeDetection it
// refuses a key repeated in the batch object or in a summary. Detections
// are only checked to be JSON and kept raw, for DecodeDetection; health,
// small and rare, is decoded by encoding/json. The batch refers to none of
// data: the detections are copies, in one allocation.
func DecodeBatch(data []byte) (detect.Batch, error) {
	var b detect.Batch
	d := batchDecoder{scanner: scanner{b: data}}
	switch d.peek() {
	case '{':
		if err := d.batch(&b); err != nil {
			return detect.Batch{}, err
		}
	case 'n': // as encoding/json, a null batch is an empty one
		if err := d.null(); err != nil {
			return detect.Batch{}, err
		}
	case 0:
		return detect.Batch{}, errors.New("no JSON value")
	default:
		if err := d.skip(1); err != nil {
			return detect.Batch{}, err
		}
		return detect.Batch{}, errors.New("not a JSON object")
	}
	if d.ws(); d.i != len(d.b) {
		return detect.Batch{}, errors.New("data after the JSON object")
	}
	return b, nil
}

// batchDecoder is a scanner over one batch, with what it reuses from one
// record to the next.
type batchDecoder struct {
	scanner
	// The last value of each string field of a summary, so that equal
	// values, the rule in a batch, share one string.
	strs [summaryStrings]string
	// The last minute's JSON and its time: most summaries of a batch
	// share a minute.
	minuteJSON []byte
	minute     time.Time
}

// Indexes in batchDecoder.strs.
const (
	strTransport = iota
	strEventType
	strDevice
	strDataset
	strDestination
	summaryStrings
)

func (d *batchDecoder) batch(b *detect.Batch) error {
	names := [...]string{"batch_id", "collector_id", "member_id", "seq", "created", "detections", "summaries", "health"}
	return d.fields("", names[:], func(k int) error {
		var err error
		switch k {
		case 0:
			b.BatchID, _, err = d.readString("batch_id")
		case 1:
			b.CollectorID, _, err = d.readString("collector_id")
		case 2:
			b.MemberID, _, err = d.readString("member_id")
		case 3:
			lit, ok, err := d.readNumber("seq")
			if !ok {
				return err
			}
			if b.Seq, ok = parseUint64(lit); !ok {
				return fmt.Errorf("seq: %s is not an integer of 64 bits", lit)
			}
		case 4:
			err = d.readTime("created", &b.Created)
		case 5:
			b.Detections, err = d.detections()
		case 6:
			b.Summaries, err = d.summaries()
		default:
			b.Health, err = d.health()
		}
		return err
	})
}

// detections reads the detections array or null. Each element is checked
// to be one JSON value and copied, as json.RawMessage would be.
func (d *batchDecoder) detections() ([]json.RawMessage, error) {
	switch d.peek() {
	case '[':
	case 'n':
		return nil, d.null()
	default:
		return nil, d.typeError("detections", "an array")
	}
	d.i++
	var spans [][2]int // the elements' offsets in the input
	n := 0
	if d.peek() == ']' {
		d.i++
		return []json.RawMessage{}, nil
	}
	for end := false; !end; {
		d.peek()
		start := d.i
		if err := d.skip(3); err != nil { // batch, detections, the element
			return nil, err
		}
		spans = append(spans, [2]int{start, d.i})
		n += d.i - start
		switch d.peek() {
		case ',':
		case ']':
			end = true
		default:
			return nil, d.syntaxError("want ',' or ']' after an array element")
		}
		d.i++
	}
	buf := make([]byte, 0, n)
	out := make([]json.RawMessage, len(spans))
	for i, sp := range spans {
		at := len(buf)
		buf = append(buf, d.b[sp[0]:sp[1]]...)
		out[i] = buf[at:len(buf):len(buf)]
	}
	return out, nil
}

// summaries reads the summaries array or null; a null element is a zero
// summary, as with encoding/json.
func (d *batchDecoder) summaries() ([]detect.FlowSummary, error) {
	switch d.peek() {
	case '[':
	case 'n':
		return nil, d.null()
	default:
		return nil, d.typeError("summaries", "an array")
	}
	d.i++
	out := []detect.FlowSummary{}
	if d.peek() == ']' {
		d.i++
		return out, nil
	}
	for {
		out = append(out, detect.FlowSummary{})
		if err := d.summary(&out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("summaries[%d]: %w", len(out)-1, err)
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return out, nil
		default:
			return nil, d.syntaxError("want ',' or ']' after an array element")
		}
	}
}

func (d *batchDecoder) summary(f *detect.FlowSummary) error {
	switch d.peek() {
	case '{':
	case 'n':
		return d.null()
	default:
		return d.typeError("summary", "an object")
	}
	names := [...]string{"minute", "source_ip", "destination_port", "transport", "event_type", "device", "dataset",
		"count", "destination"}
	return d.fields("", names[:], func(k int) error {
		switch k {
		case 0:
			return d.readMinute(&f.Minute)
		case 1:
			return d.readAddr("source_ip", &f.SourceIP)
		case 2:
			lit, ok, err := d.readNumber("destination_port")
			if !ok {
				return err
			}
			if f.DestinationPort, ok = parseUint16(lit); !ok {
				return fmt.Errorf("destination_port: %s is not a port number", lit)
			}
			return nil
		case 3:
			return d.readShared("transport", strTransport, &f.Transport)
		case 4:
			return d.readShared("event_type", strEventType, &f.EventType)
		case 5:
			return d.readShared("device", strDevice, &f.Device)
		case 6:
			return d.readShared("dataset", strDataset, &f.Dataset)
		case 7:
			var err error
			f.Count, _, err = d.readInt("count", 64)
			return err
		default:
			return d.readShared("destination", strDestination, &f.Destination)
		}
	})
}

// health reads the health object with encoding/json, after the scanner
// checked it is one JSON value.
func (d *batchDecoder) health() (*detect.Health, error) {
	start := d.i
	if err := d.skip(2); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(d.b[start:d.i]))
	dec.DisallowUnknownFields()
	var h *detect.Health
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	return h, nil
}

// readShared reads a string or null into *dst, sharing the string with the
// last value of the same field when they are equal.
func (d *batchDecoder) readShared(path string, field int, dst *string) error {
	switch d.peek() {
	case '"':
		b, err := d.str()
		if err != nil {
			return err
		}
		if string(b) != d.strs[field] {
			d.strs[field] = string(b)
		}
		*dst = d.strs[field]
		return nil
	case 'n':
		return d.null()
	}
	return d.typeError(path, "a string")
}

// readTime reads a time as time.Time's UnmarshalJSON does, which
// encoding/json calls with the value's JSON, escapes and all.
func (d *batchDecoder) readTime(path string, t *time.Time) error {
	switch d.peek() {
	case '"':
		start := d.i
		if err := d.skipStr(); err != nil {
			return err
		}
		if err := t.UnmarshalJSON(d.b[start:d.i]); err != nil {
			return fmt.Errorf("%s: %s is not an RFC 3339 time", path, d.b[start:d.i])
		}
		return nil
	case 'n':
		return d.null()
	}
	return d.typeError(path, "a time")
}

// readMinute is readTime for a summary's minute, reusing the last minute
// parsed when the JSON is the same.
func (d *batchDecoder) readMinute(t *time.Time) error {
	if d.peek() != '"' {
		return d.readTime("minute", t)
	}
	// The same JSON string, closing quote and all, is the same time.
	if d.minuteJSON != nil && bytes.HasPrefix(d.b[d.i:], d.minuteJSON) {
		d.i += len(d.minuteJSON)
		*t = d.minute
		return nil
	}
	start := d.i
	if err := d.readTime("minute", t); err != nil {
		return err
	}
	d.minuteJSON, d.minute = d.b[start:d.i], *t
	return nil
}

// readAddr reads an address as encoding/json does through
// netip.Addr.UnmarshalText: "" is the zero address, null leaves it unset.
func (d *batchDecoder) readAddr(path string, a *netip.Addr) error {
	switch d.peek() {
	case '"':
		b, err := d.str()
		if err != nil {
			return err
		}
		if err := a.UnmarshalText(b); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	case 'n':
		return d.null()
	}
	return d.typeError(path, "a string")
}

func parseUint64(lit []byte) (uint64, bool) {
	const limit = 1<<64 - 1
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false // also refuses "-0", as strconv.ParseUint does
		}
		if v := uint64(c - '0'); n <= (limit-v)/10 {
			n = n*10 + v
		} else {
			return 0, false
		}
	}
	return n, true
}
