package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect/update"
	"github.com/cyberalarm/cyberalarm/rules"
)

func newAccounts(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "accounts", Short: "Manage the accounts of the API and dashboard"}
	var path, role, member string
	var ttl time.Duration
	add := &cobra.Command{
		Use:   "add NAME --role admin|analyst|member [--member ID] --config FILE",
		Short: "Add an account; prints its password and an API token, once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			pw := make([]byte, 18)
			rand.Read(pw)
			password := base64.RawURLEncoding.EncodeToString(pw)
			acct, err := auth.NewAccount(args[0], r, member, password)
			if err != nil {
				return err
			}
			_, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := svc.Store.AddAccount(cmd.Context(), store.Account{Name: acct.Name, Role: string(acct.Role),
				MemberID: acct.MemberID, PasswordHash: acct.PasswordHash, Created: time.Now().UTC()}); err != nil {
				return err
			}
			token, expires, err := svc.Auth.IssueAPIToken(cmd.Context(), acct.Name, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "account %s (%s) added\npassword: %s\napi token: %s (expires %s)\n",
				acct.Name, acct.Role, password, token, expires.Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringVar(&path, "config", "", "central's config file")
	add.Flags().StringVar(&role, "role", "", "admin, analyst or member")
	add.Flags().StringVar(&member, "member", "", "the member a member account belongs to")
	add.Flags().DurationVar(&ttl, "token-ttl", 90*24*time.Hour, "lifetime of the API token")
	add.MarkFlagRequired("config") //nolint:errcheck
	add.MarkFlagRequired("role")   //nolint:errcheck
	cmd.AddCommand(add)
	return cmd
}

func newPublish(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "publish", Short: "Sign and publish updates for every collector"}
	var path string
	pub := &cobra.Command{
		Use:   "rules DIR --config FILE",
		Short: "Publish the rule files of DIR as the next signed rule pack",
		Long: `Publish checks every rule of DIR (compiling it, and running its fire and
quiet tests), then signs the pack with central's update key and stores it
as the next version; collectors fetch it at their next poll and apply it
without a restart.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			rs, err := rules.Load(os.DirFS(dir), ".")
			if err != nil {
				return err
			}
			if _, err := rules.Compile(rs); err != nil {
				return err
			}
			files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			if err != nil || len(files) == 0 {
				return fmt.Errorf("%s: no rule files", dir)
			}
			var pack strings.Builder
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				if pack.Len() > 0 {
					pack.WriteString("---\n")
				}
				pack.Write(b)
				if len(b) > 0 && b[len(b)-1] != '\n' {
					pack.WriteByte('\n')
				}
			}
			if _, err := rules.Parse("pack.yaml", []byte(pack.String())); err != nil {
				return err
			}
			_, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer svc.Close()
			v, err := svc.Publish(cmd.Context(), update.KindRules, []byte(pack.String()))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rule pack version %d published: %d rules\n", v, len(rs))
			return nil
		},
	}
	pub.Flags().StringVar(&path, "config", "", "central's config file")
	pub.MarkFlagRequired("config") //nolint:errcheck
	cmd.AddCommand(pub)
	return cmd
}
