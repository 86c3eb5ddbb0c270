package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// serveDashboard adds a demo analyst account, prints where the dashboard
// is and how to log in, and keeps central serving until ctx ends (an
// interrupt).
func serveDashboard(ctx context.Context, svc *service.Service, url string, stdout io.Writer) error {
	password := rand.Text()
	acct, err := auth.NewAccount("demo-analyst", auth.RoleAnalyst, "", password)
	if err != nil {
		return err
	}
	if err := svc.Store.AddAccount(ctx, store.Account{Name: acct.Name, Role: string(acct.Role),
		PasswordHash: acct.PasswordHash, Created: time.Now().UTC()}); err != nil {
		return fmt.Errorf("demo account: %w", err)
	}
	fmt.Fprintf(stdout, "\ndashboard: %s/\n", url)
	fmt.Fprintf(stdout, "  log in as %s with password %s\n", acct.Name, password)
	fmt.Fprintf(stdout, "  central's certificate comes from its own CA (SHA-256 %s): your browser will ask you to accept it\n",
		svc.CA.CAFingerprint())
	fmt.Fprintln(stdout, "serving until interrupted (Ctrl-C)")
	<-ctx.Done()
	return nil
}
