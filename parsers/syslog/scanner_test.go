package syslog

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type frame struct {
	Text string
	Err  bool
}

func scanAll(r io.Reader, max int) ([]frame, error) {
	s := NewScanner(r, max)
	var out []frame
	for s.Scan() {
		f := frame{Text: string(s.Bytes())}
		if err := s.FrameErr(); err != nil {
			if !errors.Is(err, ErrFrameTooLong) {
				return nil, err
			}
			f.Err = true
		}
		out = append(out, f)
	}
	return out, s.Err()
}

func TestScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []frame
	}{
		{"newline", "a\nb\r\nc", 0, []frame{{"a", false}, {"b", false}, {"c", false}}},
		{"empty lines", "\n\nx\n", 0, []frame{{"", false}, {"", false}, {"x", false}}},
		{"octet counting", "11 <13>hello a12 <13>hello\nb", 0, []frame{{"<13>hello a", false}, {"<13>hello\nb", false}}},
		{"octet then newline", "5 <1>ab\nplain line\n", 0, []frame{{"<1>ab", false}, {"plain line", false}}},
		{"digits that are not a count", "1,2026/11/27,TRAFFIC\n2026-11-27 10:00:00 DROP\n", 0,
			[]frame{{"1,2026/11/27,TRAFFIC", false}, {"2026-11-27 10:00:00 DROP", false}}},
		{"too long line", "short\n" + strings.Repeat("x", 100) + "\nnext\n", 32,
			[]frame{{"short", false}, {"", true}, {"next", false}}},
		{"too long frame", "40 <1>" + strings.Repeat("y", 37) + "ok\n", 32,
			[]frame{{"", true}, {"ok", false}}},
		{"truncated frame", "50 <1>only this", 0, []frame{{"<1>only this", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanAll(strings.NewReader(tt.in), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The same stream arriving a byte at a time frames alike.
			got, err = scanAll(iotest.OneByteReader(strings.NewReader(tt.in)), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("one byte at a time (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom))
	got, err := scanAll(r, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if diff := cmp.Diff([]frame{{"a", false}, {"b", false}}, got); diff != "" {
		t.Error(diff)
	}
}

func FuzzScanner(f *testing.F) {
	f.Add([]byte("11 <13>hello a12 <13>hello\nb"), 16)
	f.Add([]byte("a\r\nb\n\n999999999 <x"), 8)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = max%4096 + 1
		if max < 1 {
			max = -max + 1
		}
		s := NewScanner(strings.NewReader(string(in)), max)
		n := 0
		for s.Scan() {
			if len(s.Bytes()) > max {
				t.Fatalf("frame of %d bytes over max %d", len(s.Bytes()), max)
			}
			if n++; n > len(in)+1 {
				t.Fatal("more frames than bytes")
			}
		}
	})
}
