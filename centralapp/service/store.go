package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

// openStore opens the backend cfg.Store names.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		return sqlite.Open(ctx, sqlite.Options{Path: cfg.Store.Path, Logger: log})
	case "postgres":
		return postgres.Open(ctx, postgres.Options{DSN: cfg.Store.DSN, MaxConns: cfg.Store.MaxConns, Logger: log})
	}
	return nil, fmt.Errorf("unknown store driver %q", cfg.Store.Driver)
}
