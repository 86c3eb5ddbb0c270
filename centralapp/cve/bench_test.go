package cve

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkImport imports a generated feed of 10,000 records into an
// empty database, and reports records/s and MB/s of JSON.
func BenchmarkImport(b *testing.B) {
	const n = 10000
	feed := genFeed(n)
	b.SetBytes(int64(len(feed)))
	var busy time.Duration
	for b.Loop() {
		b.StopTimer()
		db := openDB(b)
		b.StartTimer()
		start := time.Now()
		st, err := db.Import(b.Context(), "large.json", bytes.NewReader(feed))
		busy += time.Since(start)
		if err != nil || st.Added != n {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/busy.Seconds(), "records/s")
}

// BenchmarkReimport imports the same feed again: every record is read and
// found not newer, as most of a -modified feed's re-delivery is.
func BenchmarkReimport(b *testing.B) {
	const n = 10000
	feed := genFeed(n)
	db := openDB(b)
	if _, err := db.Import(b.Context(), "large.json", bytes.NewReader(feed)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(feed)))
	start := time.Now()
	for b.Loop() {
		st, err := db.Import(b.Context(), "large.json", bytes.NewReader(feed))
		if err != nil || st.Unchanged != n {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkMatch matches an Apache banner against the fixture beside a
// generated feed of 10,000 records of other products.
func BenchmarkMatch(b *testing.B) {
	db := openDB(b)
	importFile(b, db, fixture)
	importFile(b, db, kevFile)
	if _, err := db.Import(b.Context(), "large.json", bytes.NewReader(genFeed(10000))); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		vs, err := db.Match(b.Context(), "Apache", "2.4.49")
		if err != nil || len(vs) != 3 {
			b.Fatal(vs, err)
		}
	}
}
