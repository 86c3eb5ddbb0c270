package service

import (
	"context"
	"errors"
	"os"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
)

// openScans opens the scan store for the dashboard's findings page when
// scanning is in use: scan.enabled, or a store that scans run by hand
// (`scan run`) have made. Otherwise it returns nil, and the page says
// that scanning is not configured.
func openScans(ctx context.Context, c config.Scan) (*scan.SQLite, error) {
	if !c.Enabled {
		_, err := os.Stat(c.Path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return scan.OpenSQLite(ctx, c.Path)
}
