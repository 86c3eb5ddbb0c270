package lex

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// tree decodes the object or array in b with the walker into maps, slices,
// strings, json.Numbers, bools and nils, as encoding/json does with
// UseNumber, descending into every container.
func tree(b []byte, array bool) (any, error) {
	var it JSON
	if array {
		it = NewJSONArray(b)
	} else {
		it = NewJSON(b)
	}
	obj := map[string]any{}
	arr := []any{}
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		var v any
		switch kind {
		case JSONString:
			s, err := AppendJSONText(nil, val)
			if err != nil {
				return nil, err
			}
			v = validUTF8(string(s))
		case JSONNumber:
			v = json.Number(val)
		case JSONTrue:
			v = true
		case JSONFalse:
			v = false
		case JSONNull:
			v = nil
		case JSONObject, JSONArray:
			sub, err := tree(val, kind == JSONArray)
			if err != nil {
				return nil, err
			}
			v = sub
		default:
			return nil, errors.New("bad kind " + kind.String())
		}
		if array {
			arr = append(arr, v)
			continue
		}
		k, err := AppendJSONText(nil, key)
		if err != nil {
			return nil, err
		}
		obj[validUTF8(string(k))] = v
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if len(bytes.Trim(it.Rest(), " \t\r\n")) != 0 {
		return nil, errors.New("trailing data")
	}
	if array {
		return arr, nil
	}
	return obj, nil
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		sb.WriteRune(r)
	}
	return sb.String()
}

func reference(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	if !json.Valid(b) {
		return nil, errors.New("invalid")
	}
	return v, nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func checkAgainstReference(t *testing.T, in []byte) {
	t.Helper()
	got, err := tree(in, false)
	want, werr := reference(in)
	if _, isObj := want.(map[string]any); werr == nil && !isObj {
		werr = errors.New("not an object")
	}
	switch {
	case err == nil && werr != nil:
		// The walker lets raw control characters through inside strings.
		if !hasControl(in) {
			t.Fatalf("walker accepts what encoding/json rejects (%v): %q", werr, in)
		}
	case err != nil && werr == nil:
		if !errors.Is(err, ErrJSONDepth) {
			t.Fatalf("walker rejects valid JSON: %v: %q", err, in)
		}
	case err == nil && werr == nil:
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded differently:\nwalker %#v\njson   %#v\ninput %q", got, want, in)
		}
	}
}

var jsonCases = []string{
	`{}`,
	` { } `,
	`{"a":1}`,
	`{"a":-0.5e+10,"b":0,"c":1E3,"d":-12}`,
	`{"s":"x\"y\\z\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00"}`,
	`{"lone":"\ud800x","low":"\udc00","pair2":"\ud800\u0041"}`,
	`{"a":[1,[2,[3,{"b":[]}]],{}],"t":true,"f":false,"n":null}`,
	`{"k\u0041":"v"}`,
	`{"dup":1,"dup":2}`,
	"{\"utf8\":\"caf\xc3\xa9 \xff\"}",
	`{"timestamp":"2026-11-27T10:00:00.123456+0000","flow_id":123,"event_type":"alert","alert":{"signature":"ET X","metadata":{"a":["b","c"]}}}`,
}

var jsonBad = map[string]error{
	``:                       ErrJSONEOF,
	`   `:                    ErrJSONEOF,
	`[]`:                     ErrJSONSyntax,
	`{`:                      ErrJSONEOF,
	`{"a"`:                   ErrJSONEOF,
	`{"a":`:                  ErrJSONEOF,
	`{"a":1`:                 ErrJSONEOF,
	`{"a":1,`:                ErrJSONEOF,
	`{"a":1,}`:               ErrJSONSyntax,
	`{"a" 1}`:                ErrJSONSyntax,
	`{a:1}`:                  ErrJSONSyntax,
	`{"a":01}`:               ErrJSONSyntax,
	`{"a":1.}`:               ErrJSONSyntax,
	`{"a":1.`:                ErrJSONEOF,
	`{"a":-}`:                ErrJSONSyntax,
	`{"a":1e}`:               ErrJSONSyntax,
	`{"a":tru}`:              ErrJSONSyntax,
	`{"a":tr`:                ErrJSONEOF,
	`{"a":"x`:                ErrJSONEOF,
	`{"a":"x\`:               ErrJSONEOF,
	`{"a":"\x"}`:             ErrJSONEscape,
	`{"a":"\u12"}`:           ErrJSONEscape,
	`{"a":"\u12g4"}`:         ErrJSONEscape,
	`{"a":"\u12`:             ErrJSONEOF,
	`{"a":[1,2}`:             ErrJSONSyntax,
	`{"a":{"b":1]}`:          ErrJSONSyntax,
	`{"a":[1 2]}`:            ErrJSONSyntax,
	`{"a":[1,]}`:             ErrJSONSyntax,
	`{"a":{"b"}}`:            ErrJSONSyntax,
	`{"a":{"b":1,}}`:         ErrJSONSyntax,
	`{"a":[[[[`:              ErrJSONEOF,
	`{"a":1}{"b":2}`:         nil, // the walker stops at the end; Rest holds the rest
	`{"a":"\"}`:              ErrJSONEOF,
	`{"a":["x\`:              ErrJSONEOF,
	`{"a":{"b":"\q"}}`:       ErrJSONEscape,
	`{"a":1 "b":2}`:          ErrJSONSyntax,
	`{"a":+1}`:               ErrJSONSyntax,
	`{"a":nul}`:              ErrJSONSyntax,
	`{"a":[true,fals]}`:      ErrJSONSyntax,
	`{"a":{"b":[1,{"c":}`:    ErrJSONSyntax,
	"{\"a\":\"\\u00\"}":      ErrJSONEscape,
	"{\"a\":\"\\ud800\\u\"}": ErrJSONEscape,
}

func walkAll(b []byte) error {
	_, err := tree(b, false)
	if err != nil && err.Error() == "trailing data" {
		return nil
	}
	return err
}

func TestJSONValid(t *testing.T) {
	for _, c := range jsonCases {
		if _, err := tree([]byte(c), false); err != nil {
			t.Errorf("%s: %v", c, err)
		}
		checkAgainstReference(t, []byte(c))
	}
}

func TestJSONErrors(t *testing.T) {
	for in, want := range jsonBad {
		err := walkAll([]byte(in))
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
	}
}

func TestJSONDepth(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	if err := walkAll(deep(JSONMaxDepth)); err != nil {
		t.Errorf("depth %d: %v", JSONMaxDepth, err)
	}
	it := NewJSON(deep(JSONMaxDepth + 1))
	for _, _, _, ok := it.Next(); ok; _, _, _, ok = it.Next() {
	}
	if !errors.Is(it.Err(), ErrJSONDepth) {
		t.Errorf("depth %d: got %v, want ErrJSONDepth", JSONMaxDepth+1, it.Err())
	}
	// Very deep input must fail cleanly, not blow the stack.
	it = NewJSON([]byte(`{"a":` + strings.Repeat(`{"b":[`, 1<<20)))
	for _, _, _, ok := it.Next(); ok; _, _, _, ok = it.Next() {
	}
	if !errors.Is(it.Err(), ErrJSONDepth) {
		t.Errorf("1M deep: got %v", it.Err())
	}
}

func TestJSONNext(t *testing.T) {
	in := []byte(` {"s" : "a\"b" , "n":-1.5e3,"o":{"x":[1,"]"]},"a":[],"t":true,"f":false,"z":null} tail`)
	it := NewJSON(in)
	type m struct {
		k    string
		kind JSONKind
		v    string
	}
	var got []m
	for {
		k, kind, v, ok := it.Next()
		if !ok {
			break
		}
		got = append(got, m{string(k), kind, string(v)})
	}
	want := []m{
		{"s", JSONString, `a\"b`},
		{"n", JSONNumber, `-1.5e3`},
		{"o", JSONObject, `{"x":[1,"]"]}`},
		{"a", JSONArray, `[]`},
		{"t", JSONTrue, `true`},
		{"f", JSONFalse, `false`},
		{"z", JSONNull, `null`},
	}
	if it.Err() != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v (%v), want %v", got, it.Err(), want)
	}
	if string(it.Rest()) != " tail" {
		t.Errorf("Rest = %q", it.Rest())
	}
	// Done stays done.
	if _, _, _, ok := it.Next(); ok {
		t.Error("Next after the end")
	}
	arr := NewJSONArray([]byte(`[1, "two", {"3":3}]`))
	n := 0
	for {
		k, _, _, ok := arr.Next()
		if !ok {
			break
		}
		if k != nil {
			t.Errorf("array element has key %q", k)
		}
		n++
	}
	if n != 3 || arr.Err() != nil {
		t.Errorf("array: %d elements, %v", n, arr.Err())
	}
}

func TestAppendJSONText(t *testing.T) {
	for raw, want := range map[string]string{
		``:                   ``,
		`plain`:              `plain`,
		`a\"b\\c\/d`:         `a"b\c/d`,
		`\b\f\n\r\t`:         "\b\f\n\r\t",
		`\u0041\u00e9\u20AC`: "Aé€",
		`\ud83d\ude00`:       "😀",
		`\ud83d`:             "\ufffd",
		`\ude00\ud83d`:       "\ufffd\ufffd",
		`\ud83dx`:            "\ufffdx",
		`\ud83d\u0041`:       "\ufffdA",
		`\u0000`:             "\x00",
	} {
		got, err := AppendJSONText([]byte("pre:"), []byte(raw))
		if err != nil || string(got) != "pre:"+want {
			t.Errorf("%q: got %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`\`, `\x`, `\u12`, `\u12x4`, `a\`} {
		if _, err := AppendJSONText(nil, []byte(raw)); err == nil {
			t.Errorf("%q: no error", raw)
		}
	}
}

func TestJSONNumbers(t *testing.T) {
	for raw, want := range map[string]int64{
		"0": 0, "-0": 0, "42": 42, "-42": -42,
		"9223372036854775807":  1<<63 - 1,
		"-9223372036854775808": -1 << 63,
	} {
		if n, ok := JSONInt([]byte(raw)); !ok || n != want {
			t.Errorf("JSONInt(%s) = %d, %v", raw, n, ok)
		}
	}
	for _, raw := range []string{"", "-", "1.0", "1e3", "01", "9223372036854775808", "-9223372036854775809", "99999999999999999999", "x"} {
		if _, ok := JSONInt([]byte(raw)); ok {
			t.Errorf("JSONInt(%q) ok", raw)
		}
	}
	if f, ok := JSONFloat([]byte("-1.5e3")); !ok || f != -1500 {
		t.Errorf("JSONFloat = %v, %v", f, ok)
	}
	for _, raw := range []string{"", "1.", "1e", "1x", "+1", "0x1"} {
		if _, ok := JSONFloat([]byte(raw)); ok {
			t.Errorf("JSONFloat(%q) ok", raw)
		}
	}
}

func TestJSONNoAlloc(t *testing.T) {
	line := []byte(`{"timestamp":"2026-11-27T10:00:00.123456+0000","flow_id":1,"event_type":"alert","src_ip":"192.0.2.1","payload":"Q0FOQVJZ\u0041","alert":{"signature":"ET \"X\"","metadata":{"a":["b",1,true,null]}}}`)
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		it := NewJSON(line)
		for {
			_, kind, val, ok := it.Next()
			if !ok {
				break
			}
			switch kind {
			case JSONObject:
				sub := NewJSON(val)
				for _, _, _, ok := sub.Next(); ok; _, _, _, ok = sub.Next() {
				}
			case JSONString:
				buf, _ = AppendJSONText(buf[:0], val)
			}
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per walk", n)
	}
}

func FuzzJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	for c := range jsonBad {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAgainstReference(t, in)
		// Every raw string value decodes or fails cleanly.
		_, _ = AppendJSONText(nil, in)
		_, _ = JSONInt(in)
		_, _ = JSONFloat(in)
		arr := NewJSONArray(in)
		for _, _, _, ok := arr.Next(); ok; _, _, _, ok = arr.Next() {
		}
	})
}

func BenchmarkJSONWalk(b *testing.B) {
	line := []byte(`{"timestamp":"2026-11-27T10:00:00.123456+0000","flow_id":1234567890123456,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.5","src_port":51514,"dest_ip":"192.168.1.20","dest_port":80,"proto":"TCP","pkt_src":"wire/pcap","tx_id":0,"alert":{"action":"allowed","gid":1,"signature_id":2018358,"rev":10,"signature":"ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1","category":"Potentially Bad Traffic","severity":2,"metadata":{"created_at":["2014_04_03"],"updated_at":["2019_10_08"]}},"http":{"hostname":"192.0.2.9","url":"/index.php?q=CANARY","http_user_agent":"Mozilla/4.0","http_method":"POST","protocol":"HTTP/1.1","status":200,"length":512},"app_proto":"http","payload":"UE9TVCAvaW5kZXgucGhwP3E9Q0FOQVJZIEhUVFAvMS4xDQpIb3N0OiAxOTIuMC4yLjkNCg0K","payload_printable":"POST /index.php?q=CANARY HTTP/1.1\r\nHost: 192.0.2.9\r\n\r\n","stream":0,"packet":"AAAAAAAAAAAAAAAACABFAAAoAAEAAEAGAAA=","host":"ids01"}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		it := NewJSON(line)
		for _, _, _, ok := it.Next(); ok; _, _, _, ok = it.Next() {
		}
	}
}

func TestUnescaped(t *testing.T) {
	for _, c := range []struct {
		in   string
		from int
		want int
	}{
		{`ab"c`, 0, 2},
		{`a\"b"`, 0, 4},
		{`a\\"b`, 0, 3},
		{`a\\\"b"`, 0, 6},
		{`\"x"`, 1, 1}, // backslashes before i do not count
		{`abc`, 0, -1},
		{`a\"`, 0, -1},
		{``, 0, -1},
	} {
		if got := Unescaped([]byte(c.in), c.from, '"'); got != c.want {
			t.Errorf("Unescaped(%q, %d) = %d, want %d", c.in, c.from, got, c.want)
		}
	}
}
