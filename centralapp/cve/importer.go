package cve

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
)

// ImportStats counts what one Import did.
type ImportStats struct {
	Kind      string    // "nvd" or "kev"
	Records   int       // records read
	Added     int       // new records (KEV: CVEs new on the catalogue)
	Updated   int       // records replaced by a newer lastModified
	Unchanged int       // records not newer than the stored ones (KEV: still listed)
	Rejected  int       // NVD records rejected, added as such or removed from matching
	Removed   int       // KEV: CVEs no longer on the catalogue
	FeedTime  time.Time // the feed's timestamp (NVD "timestamp", KEV "dateReleased")
	Imported  time.Time // when this import ran
}

// Import reads one NVD CVE API 2.0 feed (a yearly file, -modified, or an
// API response) or one CISA KEV catalogue from r, gzip-compressed or not,
// telling which by content. name names the input in errors. An NVD record
// replaces the stored one only if its lastModified is newer, so feeds may
// come in any order and again; a KEV catalogue replaces the stored one
// unless it is older. The import is one transaction: on an error nothing
// of it is kept.
func (db *DB) Import(ctx context.Context, name string, r io.Reader) (ImportStats, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	st := ImportStats{Imported: db.now().UTC()}
	br := bufio.NewReaderSize(r, 256<<10)
	in := io.Reader(br)
	var gz *gzipReader
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		gz = &gzipReader{r: zr}
		in = gz
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("cve db %s: %w", db.path, err)
	}
	defer tx.Rollback()
	im, err := newImporter(ctx, tx)
	if err != nil {
		return st, fmt.Errorf("cve db %s: %w", db.path, err)
	}
	defer im.close()
	im.st = &st
	dec := json.NewDecoder(in)
	if err := im.read(dec); err != nil {
		if gz != nil && gz.err != nil {
			return st, fmt.Errorf("%s: gzip: %w", name, gz.err)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return st, fmt.Errorf("%s: not a JSON feed: near byte %d: %w", name, dec.InputOffset(), err)
		}
		return st, fmt.Errorf("%s: %w", name, err)
	}
	if err := im.finish(); err != nil {
		return st, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO imports (name, kind, feed_time, imported, records,
		added, updated, unchanged, rejected, removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		name, st.Kind, ts(st.FeedTime), ts(st.Imported), st.Records, st.Added, st.Updated, st.Unchanged,
		st.Rejected, st.Removed); err != nil {
		return st, fmt.Errorf("cve db %s: %w", db.path, err)
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("cve db %s: commit: %w", db.path, err)
	}
	return st, nil
}

// gzipReader keeps the decompressor's error, which the JSON decoder
// would report as a truncated feed.
type gzipReader struct {
	r   io.Reader
	err error
}

func (g *gzipReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		g.err = err
	}
	return n, err
}

// importer applies one feed inside its transaction.
type importer struct {
	ctx context.Context
	tx  *sql.Tx
	st  *ImportStats

	lastModified, upsert, delProducts, insProduct *sql.Stmt

	kev       []entry // the catalogue, applied whole at the end
	feedTimes []string
	format    string // the NVD header's "format", or "kev" if the header has a catalogVersion
}

func newImporter(ctx context.Context, tx *sql.Tx) (*importer, error) {
	im := &importer{ctx: ctx, tx: tx}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&im.lastModified, "SELECT last_modified FROM cves WHERE id = ?"},
		{&im.upsert, `INSERT INTO cves (id, status, published, last_modified, description, cvss, cvss_version,
			vector, severity, configurations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, published = excluded.published,
			last_modified = excluded.last_modified, description = excluded.description, cvss = excluded.cvss,
			cvss_version = excluded.cvss_version, vector = excluded.vector, severity = excluded.severity,
			configurations = excluded.configurations`},
		{&im.delProducts, "DELETE FROM cve_products WHERE cve_id = ?"},
		{&im.insProduct, "INSERT OR IGNORE INTO cve_products (vendor, product, cve_id) VALUES (?, ?, ?)"},
	} {
		var err error
		if *p.st, err = tx.PrepareContext(ctx, p.q); err != nil {
			im.close()
			return nil, err
		}
	}
	return im, nil
}

func (im *importer) close() {
	for _, s := range []*sql.Stmt{im.lastModified, im.upsert, im.delProducts, im.insProduct} {
		if s != nil {
			s.Close()
		}
	}
}

// read walks the feed's top-level object, decoding the "vulnerabilities"
// array one element at a time, so a feed of any size takes the memory of
// one record.
func (im *importer) read(dec *json.Decoder) error {
	if err := expect(dec, json.Delim('{')); err != nil {
		return err
	}
	seen := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		switch key {
		case "vulnerabilities":
			if seen {
				return errors.New(`"vulnerabilities" twice`)
			}
			seen = true
			if err := im.entries(dec); err != nil {
				return err
			}
		case "format", "timestamp", "dateReleased", "catalogVersion":
			var s string
			if err := dec.Decode(&s); err != nil {
				return fmt.Errorf("%q: %w", key, err)
			}
			switch key {
			case "format":
				im.format = s
			case "catalogVersion":
				im.format = "kev"
			default:
				im.feedTimes = append(im.feedTimes, s)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	if err := expect(dec, json.Delim('}')); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the feed's object")
	}
	if !seen {
		return errors.New(`neither an NVD CVE 2.0 feed nor a KEV catalogue: no "vulnerabilities"`)
	}
	return nil
}

func expect(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if t != want {
		return fmt.Errorf("want '%s', found %s", want, describe(t))
	}
	return nil
}

// describe names a JSON token in an error.
func describe(t json.Token) string {
	switch t := t.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "'" + t.String() + "'"
	case string:
		return fmt.Sprintf("string %q", t)
	}
	return fmt.Sprintf("%v", t)
}

func (im *importer) entries(dec *json.Decoder) error {
	if err := expect(dec, json.Delim('[')); err != nil {
		return fmt.Errorf(`"vulnerabilities": %w`, err)
	}
	for i := 1; dec.More(); i++ {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		var e entry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		kind := "kev"
		if e.CVE != nil {
			kind = "nvd"
		} else if e.CveID == "" {
			return fmt.Errorf(`record %d: neither an NVD record ("cve") nor a KEV entry ("cveID")`, i)
		}
		switch im.st.Kind {
		case "":
			im.st.Kind = kind
		case kind:
		default:
			return fmt.Errorf("record %d: a %s record in a %s feed", i, kind, im.st.Kind)
		}
		im.st.Records++
		if kind == "kev" {
			if !validID(e.CveID) {
				return fmt.Errorf("record %d: %q is not a CVE id", i, e.CveID)
			}
			im.kev = append(im.kev, e)
			continue
		}
		if err := im.nvd(e.CVE); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return expect(dec, json.Delim(']'))
}

// nvd applies one NVD record.
func (im *importer) nvd(c *nvdCVE) error {
	r, err := c.check()
	if err != nil {
		return err
	}
	var stored int64
	err = im.lastModified.QueryRowContext(im.ctx, r.id).Scan(&stored)
	exists := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case ts(r.lastModified) <= stored:
		im.st.Unchanged++
		return nil
	}
	var configs []byte
	if len(r.configs) > 0 {
		if configs, err = json.Marshal(r.configs); err != nil {
			return fmt.Errorf("%s: %w", r.id, err)
		}
	}
	if _, err := im.upsert.ExecContext(im.ctx, r.id, r.status, ts(r.published), ts(r.lastModified), r.description,
		r.cvss, r.cvssVersion, r.vector, r.severity, configs); err != nil {
		return fmt.Errorf("%s: %w", r.id, err)
	}
	if exists {
		if _, err := im.delProducts.ExecContext(im.ctx, r.id); err != nil {
			return fmt.Errorf("%s: %w", r.id, err)
		}
	}
	switch {
	case r.rejected:
		im.st.Rejected++
	case exists:
		im.st.Updated++
	default:
		im.st.Added++
	}
	for _, c := range r.configs {
		for _, n := range c.Nodes {
			for _, m := range n.CPEMatch {
				if !m.Vulnerable {
					continue
				}
				if _, err := im.insProduct.ExecContext(im.ctx, m.cpe.Vendor(), m.cpe.Product(), r.id); err != nil {
					return fmt.Errorf("%s: %w", r.id, err)
				}
			}
		}
	}
	return nil
}

// finish checks the header and applies a KEV catalogue.
func (im *importer) finish() error {
	for _, s := range im.feedTimes {
		t, err := parseTime(s)
		if err != nil {
			return fmt.Errorf("feed timestamp: %w", err)
		}
		im.st.FeedTime = t
	}
	if im.st.Kind == "" { // an empty feed: the header tells its kind
		switch im.format {
		case "NVD_CVE":
			im.st.Kind = "nvd"
		case "kev":
			im.st.Kind = "kev"
		default:
			return errors.New(`neither an NVD CVE 2.0 feed ("format": "NVD_CVE") nor a KEV catalogue ("catalogVersion")`)
		}
	}
	if im.format != "" && im.format != "NVD_CVE" && im.st.Kind == "nvd" {
		return fmt.Errorf("format %q is not NVD_CVE", im.format)
	}
	if im.st.Kind == "kev" {
		return im.applyKEV()
	}
	return nil
}

// applyKEV replaces the stored catalogue with this one, unless an import
// of a later catalogue came first.
func (im *importer) applyKEV() error {
	var latest sql.NullInt64
	if err := im.tx.QueryRowContext(im.ctx, "SELECT max(feed_time) FROM imports WHERE kind = 'kev'").Scan(&latest); err != nil {
		return err
	}
	if !im.st.FeedTime.IsZero() && ts(im.st.FeedTime) < latest.Int64 {
		im.st.Unchanged = len(im.kev)
		return nil
	}
	old := map[string]bool{}
	rows, err := im.tx.QueryContext(im.ctx, "SELECT cve_id FROM kev")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		old[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := im.tx.ExecContext(im.ctx, "DELETE FROM kev"); err != nil {
		return err
	}
	ins, err := im.tx.PrepareContext(im.ctx, "INSERT OR REPLACE INTO kev (cve_id, date_added, due_date, required_action) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer ins.Close()
	listed := map[string]bool{}
	for i, e := range im.kev {
		added, err := parseTime(e.DateAdded)
		if err == nil && added.IsZero() {
			err = errors.New("no dateAdded")
		}
		if err != nil {
			return fmt.Errorf("record %d: %s: dateAdded: %w", i+1, e.CveID, err)
		}
		due, err := parseTime(e.DueDate)
		if err != nil {
			return fmt.Errorf("record %d: %s: dueDate: %w", i+1, e.CveID, err)
		}
		if _, err := ins.ExecContext(im.ctx, e.CveID, ts(added), ts(due), e.RequiredAction); err != nil {
			return err
		}
		switch {
		case listed[e.CveID]:
		case old[e.CveID]:
			im.st.Unchanged++
		default:
			im.st.Added++
		}
		listed[e.CveID] = true
	}
	for id := range old {
		if !listed[id] {
			im.st.Removed++
		}
	}
	return nil
}
