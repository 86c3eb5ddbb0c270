package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/cve"
)

// Service is a Scanner with the stores it opened from the config.
type Service struct {
	*Scanner
	Store Store
	CVE   CVEs
}

// Open opens the scan store and the CVE database the config names and
// returns a Scanner over them.
func Open(ctx context.Context, c config.Scan, log *slog.Logger) (*Service, error) {
	st, err := OpenStore(ctx, c, log)
	if err != nil {
		return nil, err
	}
	db, err := cve.Open(c.CVEPath)
	if err != nil {
		st.Close()
		return nil, err
	}
	o := Options{
		Store: st, CVE: CVEs{db}, Rate: c.Rate, TargetRate: c.TargetRate, Concurrency: c.Concurrency,
		Timeout: c.Timeout, ProofTTL: c.ProofTTL, ApprovalTTL: c.ApprovalTTL,
		AllowNonPublic: c.AllowNonPublic, Killed: c.KillSwitch, Log: log,
	}
	for _, p := range c.Ports {
		o.Ports = append(o.Ports, uint16(p))
	}
	s, err := New(o)
	if err != nil {
		st.Close()
		db.Close()
		return nil, err
	}
	return &Service{Scanner: s, Store: st, CVE: CVEs{db}}, nil
}

// Close closes the stores.
func (s *Service) Close() error {
	return errors.Join(s.Store.Close(), s.CVE.DB.Close())
}

// OpenStore opens the scan store the config names: a SQLite file, or a
// PostgreSQL database (a validated config has filled in its DSN).
func OpenStore(ctx context.Context, c config.Scan, log *slog.Logger) (Store, error) {
	var st Store
	var err error
	switch c.Driver {
	case "", "sqlite":
		st, err = OpenSQLite(ctx, c.Path)
	case "postgres":
		st, err = OpenPostgres(ctx, PostgresOptions{DSN: c.DSN, MaxConns: c.MaxConns, Logger: log})
	default:
		err = fmt.Errorf("scan store: unknown driver %q", c.Driver)
	}
	if err != nil {
		// Not a typed nil in an interface.
		return nil, err
	}
	return st, nil
}

// StoreExists says whether the scan store the config names has been
// made, by `serve` with scanning on or by `scan` commands.
func StoreExists(ctx context.Context, c config.Scan) (bool, error) {
	if c.Driver == "postgres" {
		return PostgresExists(ctx, c.DSN)
	}
	_, err := os.Stat(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
