package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/cve"
)

func newCVE(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "cve", Short: "Offline CVE data for the vulnerability scans"}
	var path string
	imp := &cobra.Command{
		Use:   "import FILE... --config FILE",
		Short: "Import NVD CVE API 2.0 feeds and CISA's KEV catalogue into scan.cve_path (data_dir/cve.db)",
		Long: `Import reads NVD CVE API 2.0 JSON feeds (nvdcve-2.0-YYYY.json.gz, the
-modified feed, or an API response) and the CISA Known Exploited
Vulnerabilities catalogue (known_exploited_vulnerabilities.json), gzipped
or not. Imports are incremental: a record replaces the stored one only if
NVD modified it later, so the feeds may come in any order and again. Each
file is imported in one transaction.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(cfg.Scan.CVEPath), 0o700); err != nil {
				return fmt.Errorf("scan.cve_path: %w", err)
			}
			db, err := cve.Open(cfg.Scan.CVEPath)
			if err != nil {
				return err
			}
			defer db.Close()
			for _, name := range files {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				st, err := db.Import(cmd.Context(), name, f)
				f.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: %s, %d records: %d added, %d updated, %d unchanged", name, st.Kind, st.Records,
					st.Added, st.Updated, st.Unchanged)
				switch st.Kind {
				case "nvd":
					fmt.Fprintf(stdout, ", %d rejected", st.Rejected)
				case "kev":
					fmt.Fprintf(stdout, ", %d removed", st.Removed)
				}
				if !st.FeedTime.IsZero() {
					fmt.Fprintf(stdout, " (feed of %s)", st.FeedTime.Format(time.RFC3339))
				}
				fmt.Fprintln(stdout)
			}
			at, err := db.Imported(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "CVE data as of %s\n", at.Format(time.RFC3339))
			return nil
		},
	}
	imp.Flags().StringVar(&path, "config", "", "central's config file")
	imp.MarkFlagRequired("config") //nolint:errcheck
	match := &cobra.Command{
		Use:   "match SOFTWARE VERSION --config FILE",
		Short: "List the CVEs a banner's software and version potentially have",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if _, ok := cve.Identify(args[0], args[1]); !ok {
				return fmt.Errorf("%q %q: not a software and version the alias table knows", args[0], args[1])
			}
			db, err := cve.Open(cfg.Scan.CVEPath)
			if err != nil {
				return err
			}
			defer db.Close()
			vs, err := db.Match(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			for _, v := range vs {
				kev := ""
				if v.KEV {
					kev = " KEV"
				}
				fmt.Fprintf(stdout, "%s %.1f %s%s\n", v.ID, v.CVSS, v.Severity, kev)
			}
			return nil
		},
	}
	match.Flags().StringVar(&path, "config", "", "central's config file")
	match.MarkFlagRequired("config") //nolint:errcheck
	cmd.AddCommand(imp, match)
	return cmd
}
