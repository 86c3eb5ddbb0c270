package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
)

func newEnrol(e *env) *cobra.Command {
	var path, central, token, caSHA string
	cmd := &cobra.Command{
		Use:   "enrol --config FILE --token T [--central URL] [--ca-sha256 HEX]",
		Short: "Exchange a one-time enrolment token for this collector's client certificate",
		Long: `Enrol generates the collector's private key (mode 0600) in collector.data_dir,
sends a certificate request with the one-time token that
"cyberalarm-central members add" printed, stores the certificate, and pins
central's CA: from then on the collector trusts no other.

The first connection must trust central somehow. With --ca-sha256 (the
fingerprint that "members add" prints beside the token) it trusts exactly
that CA; without it, central's certificate must chain to the system's roots.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, nil)
			if err != nil {
				return err
			}
			if central == "" {
				central = cfg.Central.URL
			}
			if central == "" {
				return fmt.Errorf("--central: no URL given, and central.url is not set in %s", path)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			id, err := forward.Enrol(ctx, central, token, cfg.Collector.DataDir, forward.EnrolOptions{CASHA256: caSHA})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "enrolled: collector %s of member %s; credentials in %s\n", id.CollectorID, id.MemberID, cfg.Collector.DataDir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "config", "", "the collector's config file")
	fl.StringVar(&central, "central", "", "central's URL (default: central.url of the config)")
	fl.StringVar(&token, "token", "", "the one-time enrolment token")
	fl.StringVar(&caSHA, "ca-sha256", "", "SHA-256 fingerprint of central's CA certificate, hex")
	cmd.MarkFlagRequired("config") //nolint:errcheck
	cmd.MarkFlagRequired("token")  //nolint:errcheck
	return cmd
}
