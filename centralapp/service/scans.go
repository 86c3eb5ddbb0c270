package service

import (
	"context"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
)

// openScans opens the scan store for the dashboard's findings page when
// scanning is in use: scan.enabled, or a store that scans run by hand
// (`scan run`) have made. Otherwise it returns nil, and the page says
// that scanning is not configured. A node that scans passes its scanner's
// store, which the page then reads too.
func openScans(ctx context.Context, c config.Scan, scanner *scan.Service) (scan.Store, error) {
	if scanner != nil {
		return scanner.Store, nil
	}
	if !c.Enabled {
		ok, err := scan.StoreExists(ctx, c)
		if err != nil || !ok {
			return nil, err
		}
	}
	return scan.OpenStore(ctx, c, nil)
}
