package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newFormats(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "formats",
		Short: "List every parser name with a short description",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			for _, in := range e.registry().All() {
				fmt.Fprintf(w, "%s\t%s\n", in.Name, in.Description)
			}
			return w.Flush()
		},
	}
}
