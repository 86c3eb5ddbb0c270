package daemon

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// corpusMix is every sample line of every format, the mix of a site with
// one of each device.
func corpusMix(b *testing.B) [][]byte {
	files, _ := filepath.Glob("../../corpus/parsers/*/*/input.log")
	var lines [][]byte
	for _, f := range files {
		if strings.Contains(f, "malformed") {
			continue
		}
		for _, l := range parsertest.Lines(b, f) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue // an input does not pass empty messages on
			}
			lines = append(lines, append(l, '\n'))
		}
	}
	if len(lines) < 1000 {
		b.Fatalf("only %d corpus lines", len(lines))
	}
	return lines
}

// BenchmarkSyslogTCPToBuffer is the collector's sustained ingest: syslog
// over TCP on loopback, through parsing, classification, the built-in
// rules, flow summaries and the egress policy, into the SQLite buffer.
// lines/s counts from the first byte sent to the last commit; peak-RSS-MB
// is the process's high-water mark.
func BenchmarkSyslogTCPToBuffer(b *testing.B) {
	mix := corpusMix(b)
	cfg := testConfig(b, b.TempDir(), "", "", `inputs:
  - name: syslog-tcp
    type: tcp
    listen: 127.0.0.1:0
summaries:
  enabled: true
`)
	d, err := New(Options{Config: cfg, Registry: parsers.Builtin(), Ref: rules.TestRef, Offline: true,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()
	conn, err := net.Dial("tcp", d.Addr("syslog-tcp").String())
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(conn, 256<<10)
	runtime.GC()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w.Write(mix[i%len(mix)]) //nolint:errcheck // checked at Flush
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	// Every line the input took reaches the parse stage; lines it refused
	// (oversize) are counted by the input.
	in := d.inputs[0].Stats()
	for deadline := time.Now().Add(time.Minute); d.pipe.counts.lines.Load()+int64(in.Oversize.Load()) < int64(b.N); {
		if time.Now().After(deadline) {
			b.Fatalf("the pipeline took %d of %d lines (input: %d lines, %d oversize, %d errors)",
				d.pipe.counts.lines.Load(), b.N, in.Lines.Load(), in.Oversize.Load(), in.Errors.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel() // the rule stage drains and commits before Run returns
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	conn.Close()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// peakRSS returns the process's peak resident set size in MB, from
// /proc/self/status (Linux).
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
