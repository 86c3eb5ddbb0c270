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
	if !readDSN("store", &st.DSN, st.DSNFile, bad) {
		bad("store.driver", "postgres needs store.dsn or store.dsn_file")
	}
}

// readDSN checks the connection settings prefix.dsn and prefix.dsn_file
// of a PostgreSQL store, reading the file into *dsn, and reports whether
// either was given.
func readDSN(prefix string, dsn *string, file string, bad func(path, format string, args ...any)) bool {
	path := prefix + ".dsn"
	switch {
	case *dsn != "" && file != "":
		bad(prefix+".dsn_file", "give %s.dsn or %s.dsn_file, not both", prefix, prefix)
		return true
	case file != "":
		path = prefix + ".dsn_file"
		data, err := os.ReadFile(file)
		if err != nil {
			bad(path, "%v", err)
			return true
		}
		if *dsn = strings.TrimSpace(string(data)); *dsn == "" {
			bad(path, "%s is empty", file)
			return true
		}
	case *dsn == "":
		return false
	}
	// pgx's parse errors leave the password out.
	if _, err := pgx.ParseConfig(*dsn); err != nil {
		bad(path, "%v", err)
	}
	return true
}
