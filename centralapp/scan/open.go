package scan

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/cve"
)

// Service is a Scanner with the stores it opened from the config.
type Service struct {
	*Scanner
	Store *SQLite
	CVE   CVEs
}

// Open opens the scan store and the CVE database the config names and
// returns a Scanner over them.
func Open(ctx context.Context, c config.Scan, log *slog.Logger) (*Service, error) {
	st, err := OpenSQLite(ctx, c.Path)
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
