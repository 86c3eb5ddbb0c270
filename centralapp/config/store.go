package config

import (
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// validateStore checks store:, and reads store.dsn_file into store.dsn.
func (c *Config) validateStore(bad func(path, format string, args ...any)) {
	st := &c.Store
	switch st.Driver {
	case "sqlite":
		for path, set := range map[string]bool{"store.dsn": st.DSN != "", "store.dsn_file": st.DSNFile != "",
			"store.max_conns": st.MaxConns != 0} {
			if set {
				bad(path, "only with driver postgres")
			}
		}
		return
	case "postgres":
	default:
		bad("store.driver", "%q: want sqlite or postgres", st.Driver)
		return
	}
	if st.MaxConns < 0 {
		bad("store.max_conns", "%d must not be negative", st.MaxConns)
	}
	path := "store.dsn"
	switch {
	case st.DSN != "" && st.DSNFile != "":
		bad("store.dsn_file", "give store.dsn or store.dsn_file, not both")
		return
	case st.DSNFile != "":
		path = "store.dsn_file"
		data, err := os.ReadFile(st.DSNFile)
		if err != nil {
			bad(path, "%v", err)
			return
		}
		st.DSN = strings.TrimSpace(string(data))
		if st.DSN == "" {
			bad(path, "%s is empty", st.DSNFile)
			return
		}
	case st.DSN == "":
		bad("store.driver", "postgres needs store.dsn or store.dsn_file")
		return
	}
	// pgx's parse errors leave the password out.
	if _, err := pgx.ParseConfig(st.DSN); err != nil {
		bad(path, "%v", err)
	}
}
