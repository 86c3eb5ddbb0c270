package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// queryRows runs a read query on the driver connection itself and calls
// row for each result row. database/sql's Scan converts every column
// through reflection (an int column through its decimal string) and copies
// every blob a second time; on pages of detections that was most of the
// cost of a row. The values row gets are the driver's: go-sqlite3 makes
// every string and blob afresh for each row (C.GoStringN, C.GoBytes), so
// row may keep them.
func (s *Store) queryRows(ctx context.Context, q string, args []any, ncol int, row func([]driver.Value) error) error {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return fmt.Errorf("argument %d: %w", i+1, err)
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, q, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		if n := len(rows.Columns()); n != ncol {
			return fmt.Errorf("query returns %d columns, want %d", n, ncol)
		}
		dest := make([]driver.Value, ncol)
		for {
			if err := rows.Next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := row(dest); err != nil {
				return err
			}
		}
	})
}

// pages accumulates up to limit results. It starts small, for the many
// reads that return a few rows, and past that grows once to the limit, so
// a page of 100,000 detections is not copied over and over as append's
// doubling would.
type pages[T any] struct {
	limit int
	out   []T
}

// pagesStart is the capacity a read starts with.
const pagesStart = 4096

// next returns a pointer to a new zero element.
func (p *pages[T]) next() *T {
	if len(p.out) == cap(p.out) {
		n := min(p.limit, pagesStart)
		if len(p.out) > 0 {
			n = p.limit // past the start, once to the limit
		}
		grown := make([]T, len(p.out), max(n, len(p.out)+1))
		copy(grown, p.out)
		p.out = grown
	}
	p.out = p.out[:len(p.out)+1]
	return &p.out[len(p.out)-1]
}

// all returns every element; nil when there are none.
func (p *pages[T]) all() []T {
	if len(p.out) == 0 {
		return nil
	}
	return p.out
}

// columnError says which column of a row had an unexpected value.
func columnError(name string, v driver.Value) error {
	return fmt.Errorf("column %s: unexpected stored value of type %T", name, v)
}

// intValue reads an INTEGER column; NULL is 0.
func intValue(name string, v driver.Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	}
	return 0, columnError(name, v)
}

// textValue reads a TEXT column.
func textValue(name string, v driver.Value) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", columnError(name, v)
}

// blobValue reads a BLOB column; NULL is nil.
func blobValue(name string, v driver.Value) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case nil:
		return nil, nil
	}
	return nil, columnError(name, v)
}

// rowReader decodes one row's columns in order, keeping the first error.
type rowReader struct {
	vs    []driver.Value
	names []string
	i     int
	err   error
}

func (r *rowReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *rowReader) int() int64 {
	n, err := intValue(r.names[r.i], r.vs[r.i])
	r.fail(err)
	r.i++
	return n
}

func (r *rowReader) text() string {
	s, err := textValue(r.names[r.i], r.vs[r.i])
	r.fail(err)
	r.i++
	return s
}

func (r *rowReader) blob() []byte {
	b, err := blobValue(r.names[r.i], r.vs[r.i])
	r.fail(err)
	r.i++
	return b
}

func (r *rowReader) time() time.Time { return fromTS(r.int()) }

func (r *rowReader) addr() netip.Addr {
	name := r.names[r.i]
	a, err := fromIP(r.blob())
	if err != nil {
		r.fail(fmt.Errorf("column %s: %w", name, err))
	}
	return a
}

func (r *rowReader) addrs() []netip.Addr {
	name := r.names[r.i]
	as, err := fromIPs(r.blob())
	if err != nil {
		r.fail(fmt.Errorf("column %s: %w", name, err))
	}
	return as
}
