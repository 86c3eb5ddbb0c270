package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/detect"
)

// decodeBatchReference is the batch decoding DecodeBatch replaced:
// encoding/json with unknown fields refused and nothing after the value.
func decodeBatchReference(data []byte) (detect.Batch, error) {
	var b detect.Batch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return detect.Batch{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return detect.Batch{}, errors.New("data after the JSON value")
	}
	return b, nil
}

// batchRepeatedKey reports whether the batch object or one of its
// summaries in data, valid JSON, holds two keys that encoding/json takes
// for the same field. Detections are raw and health is encoding/json's,
// so their keys are not looked at.
func batchRepeatedKey(t testing.TB, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	token := func() json.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("walking valid JSON: %v", err)
		}
		return tok
	}
	skip := func() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("walking valid JSON: %v", err)
		}
	}
	// object reads the keys of the object that is next, calling value at
	// each key's value, and reports whether one repeats.
	object := func(value func(key string)) bool {
		var keys []string
		for dec.More() {
			key := token().(string)
			for _, k := range keys {
				if strings.EqualFold(k, key) {
					return true
				}
			}
			keys = append(keys, key)
			value(key)
		}
		token() // }
		return false
	}
	if token() != json.Delim('{') {
		return false
	}
	repeated := false
	top := object(func(key string) {
		if !strings.EqualFold(key, "summaries") || repeated {
			skip()
			return
		}
		if token() != json.Delim('[') {
			return // null
		}
		for dec.More() && !repeated {
			if tok := token(); tok == json.Delim('{') {
				repeated = object(func(string) { skip() })
			}
		}
		for dec.More() {
			skip()
		}
		token() // ]
	})
	return top || repeated
}

// checkBatchAgainstReference fails t unless DecodeBatch and the reference
// agree on data: both refuse it, or both accept it with equal results.
// Where the reference merges a repeated key, DecodeBatch must refuse.
func checkBatchAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	want, werr := decodeBatchReference(data)
	got, gerr := DecodeBatch(data)
	if werr == nil && batchRepeatedKey(t, data) {
		if gerr == nil {
			t.Fatalf("%q: accepted a repeated key", data)
		}
		return
	}
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q:\nreference error: %v\ndecoder error:   %v", data, werr, gerr)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Fatalf("%q: decoded (-reference +decoder):\n%s", data, diff)
	}
}

// wireBatch is a batch as a collector sends it: n detections and n
// summaries, and health.
func wireBatch(n int) detect.Batch {
	minute := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	b := detect.Batch{BatchID: "01KAK6Y1W2X3Y4Z5A6B7C8D9EF", CollectorID: "c-01KAK6Y1W2", MemberID: "acme", Seq: 42,
		Created: minute.Add(90 * time.Second),
		Health: &detect.Health{Time: minute.Add(time.Minute), Started: minute.Add(-time.Hour), Version: "1.4.0",
			Devices: []detect.DeviceHealth{{Device: "fw1", Dataset: "cisco_asa", Input: "syslog-udp",
				LastSeen: minute.Add(59 * time.Second), Lines: 1200, Failed: 3}},
			Counts: detect.HealthCounts{LinesIn: 1200, Parsed: 1197, Detections: 40}, Buffer: 4096, BufferLimit: 1 << 30},
	}
	for i := range n {
		d := detect.Detection{RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
			Techniques: []string{"T1046"}, Tags: []string{"attack.discovery"},
			Source: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), Count: 20,
			FirstSeen: minute, LastSeen: minute.Add(59 * time.Second), MemberID: "acme",
			Sample: detect.Event{Timestamp: minute, Category: detect.CategoryNetwork, Type: detect.TypeDenied, Dataset: "iptables"}}
		b.Detections = append(b.Detections, d.AppendJSON(nil))
		b.Summaries = append(b.Summaries, detect.FlowSummary{Minute: minute.Add(time.Duration(i/50) * time.Minute),
			SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), DestinationPort: uint16(i%1024 + 1),
			Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: int64(i + 1),
			Destination: fmt.Sprintf("h%d", i%3)})
	}
	return b
}

// batchSeeds are a batch as collectors send it plus the edges of the
// grammar and of each field's type.
func batchSeeds(t testing.TB) [][]byte {
	full, err := json.Marshal(wireBatch(3))
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{full}
	const sum = `{"minute":"2026-11-20T10:00:00Z","source_ip":"203.0.113.1","destination_port":22,"transport":"tcp","event_type":"denied","device":"fw1","dataset":"cisco_asa","count":3}`
	const base = `{"batch_id":"01KAK6Y1W2X3Y4Z5A6B7C8D9EF","collector_id":"c1","member_id":"acme","seq":7,"created":"2026-11-20T10:01:00Z","detections":[{"a":1}],"summaries":[` + sum + `]}`
	for _, r := range [][2]string{
		{`"seq":7`, `"seq":18446744073709551615`},
		{`"seq":7`, `"seq":18446744073709551616`},
		{`"seq":7`, `"seq":-1`},
		{`"seq":7`, `"seq":-0`},
		{`"seq":7`, `"seq":7.0`},
		{`"seq":7`, `"seq":7e0`},
		{`"seq":7`, `"seq":"7"`},
		{`"seq":7`, `"seq":null`},
		{`"seq":7`, `"SEQ":7`},
		{`"seq":7`, `"seq":7,"Seq":8`},
		{`"seq":7`, `"seq":7,"sequence":8`},
		{`"batch_id"`, `"\u0062atch_id"`},
		{`"member_id"`, "\"member_\u0130d\""},
		{`"acme"`, `"a\u00e9\ud83d\ude00\ud800x\"\\"`},
		{`"acme"`, "\"acme\xff\""},
		{`"acme"`, `null`},
		{`"acme"`, `7`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":null`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":"2026-11-20T10:01:00.123456789+02:00"`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":"2026-11-20T10:01:00\u005a"`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":"2026-11-20 10:01:00Z"`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":1763632860`},
		{`"created":"2026-11-20T10:01:00Z"`, `"created":{}`},
		{`"detections":[{"a":1}]`, `"detections":null`},
		{`"detections":[{"a":1}]`, `"detections":[]`},
		{`"detections":[{"a":1}]`, `"detections":[ null , 1,"x" ,[],{"a":[1,{"b":null}]} ]`},
		{`"detections":[{"a":1}]`, `"detections":[{"a":1,}]`},
		{`"detections":[{"a":1}]`, `"detections":[{"a":1},]`},
		{`"detections":[{"a":1}]`, `"detections":{}`},
		{`"detections":[{"a":1}]`, `"detections":"x"`},
		{`"detections":[{"a":1}]`, `"detections":[{"a":"\q"}]`},
		{`"summaries":[`, `"summaries":[null,`},
		{`"summaries":[` + sum + `]`, `"summaries":[]`},
		{`"summaries":[` + sum + `]`, `"summaries":null`},
		{`"summaries":[` + sum + `]`, `"summaries":{}`},
		{`"summaries":[` + sum + `]`, `"summaries":[1]`},
		{`"summaries":[` + sum + `]`, `"summaries":[` + sum + `,` + sum + `,` + strings.Replace(sum, `10:00:00Z"`, `10:00:00Z" `, 1) + `]`},
		{`"summaries":[` + sum + `]`, `"summaries":[` + sum + `,` + strings.Replace(sum, `10:00:00Z"`, `10:01:00Z"`, 1) + `]`},
		{`"summaries":[` + sum + `]`, `"summaries":[` + sum + `,` + strings.Replace(sum, `"2026-11-20T10:00:00Z"`, `"2026-11-20T10:00:00Z\""`, 1) + `]`},
		{`"summaries":[` + sum + `]`, `"summaries":[` + sum + `,` + strings.Replace(sum, `"tcp"`, `"udp"`, 1) + `]`},
		{`"minute":"2026-11-20T10:00:00Z"`, `"minute":null`},
		{`"minute":"2026-11-20T10:00:00Z"`, `"minute":"x"`},
		{`"minute":"2026-11-20T10:00:00Z"`, `"minute":[]`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":""`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":null`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":"::ffff:203.0.113.1"`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":"fe80::1%eth0"`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":"203.0.113.256"`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":3405803777}`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":"2001:db8::\u0031"`},
		{`"destination_port":22`, `"destination_port":65535`},
		{`"destination_port":22`, `"destination_port":65536`},
		{`"destination_port":22`, `"destination_port":-0`},
		{`"destination_port":22`, `"destination_port":22.0`},
		{`"destination_port":22`, `"destination_port":null`},
		{`"destination_port":22`, `"destination_port":true`},
		{`"count":3`, `"count":9223372036854775807`},
		{`"count":3`, `"count":9223372036854775808`},
		{`"count":3`, `"count":-9223372036854775808`},
		{`"count":3`, `"count":3,"COUNT":4`},
		{`"count":3`, `"count":3,"colour":"red"`},
		{`"count":3`, `"count":3,"destination":"h\u00e9"`},
		{`"count":3`, `"count":3,"destination":null`},
		{`"count":3`, `"count":3,"destination":1`},
		{`"transport":"tcp"`, `"Transport":"tcp"`},
		{`"transport":"tcp"`, "\"transport\":\"t\xffcp\""},
		{`"device":"fw1"`, `"device":["fw1"]`},
		{`]}`, `],"health":null}`},
		{`]}`, `],"health":{"time":"2026-11-20T10:01:00Z","devices":[{"device":"fw1","last_seen":"2026-11-20T10:00:00Z"}]}}`},
		{`]}`, `],"health":{"time":"2026-11-20T10:01:00Z","time":"2026-11-20T10:02:00Z"}}`},
		{`]}`, `],"health":{"time":"2026-11-20T10:01:00Z","uptime":1}}`},
		{`]}`, `],"health":[]}`},
		{`]}`, `],"health":{"time":"2026-11-20T10:01:00Z"},"health":null}`},
		{`]}`, `],"raw_lines":["secret"]}`},
		{base, " \t\r\n" + base + " \n"},
		{base, base + "x"},
		{base, base + "{}"},
		{base, "null"},
		{base, " null "},
		{base, "nul"},
		{base, "[]"},
		{base, `"batch"`},
		{base, ""},
		{base, base[:len(base)/2]},
	} {
		if !strings.Contains(base, r[0]) {
			t.Fatalf("seed: %q is not in the base batch", r[0])
		}
		seeds = append(seeds, []byte(strings.Replace(base, r[0], r[1], 1)))
	}
	deep := strings.Repeat("[", maxDepth-3) + strings.Repeat("]", maxDepth-3)
	seeds = append(seeds,
		[]byte(strings.Replace(base, `[{"a":1}]`, `[`+deep+`]`, 1)),
		[]byte(strings.Replace(base, `[{"a":1}]`, `[[`+deep+`]]`, 1)))
	return seeds
}

func TestDecodeBatchMatchesReference(t *testing.T) {
	for _, data := range batchSeeds(t) {
		checkBatchAgainstReference(t, data)
	}
}

func FuzzDecodeBatchReference(f *testing.F) {
	for _, data := range batchSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(checkBatchAgainstReference)
}

// TestDecodeBatchErrors checks that a refused batch's error names the
// field and, in a summary, the summary.
func TestDecodeBatchErrors(t *testing.T) {
	good, err := json.Marshal(wireBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBatch(good); err != nil {
		t.Fatalf("good batch: %v", err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{`"seq":42`, `"seq":42,"raw_lines":[]`, `unknown field "raw_lines"`},
		{`"seq":42`, `"seq":-42`, `seq: -42 is not an integer of 64 bits`},
		{`"seq":42`, `"seq":42,"Seq":43`, `seq: repeated key`},
		{`"created":"`, `"created":"x`, `created: "x2026-11-20T10:01:30Z" is not an RFC 3339 time`},
		{`"count":2,"destination"`, `"count":2,"colour":"red","destination"`, `summaries[1]: unknown field "colour"`},
		{`"count":2,"destination"`, `"count":"2","destination"`, `summaries[1]: count: want a number`},
		{`"destination_port":2`, `"destination_port":70000`, `summaries[1]: destination_port: 70000 is not a port number`},
		{`"source_ip":"203.0.113.1"`, `"source_ip":"203.0.113"`, `summaries[1]: source_ip: ParseAddr("203.0.113")`},
		{`"detections":[`, `"detections":[{"a":tru},`, `invalid JSON at offset`},
		{`"health":{`, `"health":{"uptime":1,`, `health: json: unknown field "uptime"`},
	} {
		data := []byte(strings.Replace(string(good), tc.old, tc.new, 1))
		if bytes.Equal(data, good) {
			t.Fatalf("%q is not in the batch", tc.old)
		}
		_, err := DecodeBatch(data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: error %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}

// TestDecodeBatchCopies checks that the decoded batch does not refer to
// the input, which the server reuses for the next batch.
func TestDecodeBatchCopies(t *testing.T) {
	data, err := json.Marshal(wireBatch(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeBatchReference(data)
	clear(data)
	if diff := cmp.Diff(want, b, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Fatalf("after the input was cleared (-want +got):\n%s", diff)
	}
	// Appending to one detection must not overwrite the next.
	_ = append(b.Detections[0], 'x')
	if !bytes.Equal(b.Detections[1], want.Detections[1]) {
		t.Fatal("detections share room for appends")
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	data, err := json.Marshal(wireBatch(500))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte) (detect.Batch, error)
	}{{"reference", decodeBatchReference}, {"scanner", DecodeBatch}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
