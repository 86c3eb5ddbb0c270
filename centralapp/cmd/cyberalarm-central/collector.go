package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/demo"
	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/daemon"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/parsers"
)

// runCollector enrols a collector and runs it over c's files, the way
// `cyberalarm-collector enrol` and `run` would, until every line is read
// and every batch delivered.
func runCollector(ctx context.Context, c demo.Collector) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if _, err := forward.Enrol(ctx, c.Central, c.Token, c.Dir, forward.EnrolOptions{CASHA256: c.CAFingerprint}); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	yaml := fmt.Sprintf(`collector:
  member: %s
  data_dir: .
central:
  url: %s
  retry_min: 100ms
  retry_max: 2s
  updates_interval: 0s
inputs:
  - name: demo-feed
    type: stdin
    format: auto
lists:
  trusted_files: %s
  indicator_files: %s
buffer:
  batch_max_age: 200ms
summaries:
  enabled: true
metrics:
  enabled: false
log:
  level: warn
`, c.Member, c.Central, yamlList(c.Trusted), yamlList(c.Indicators))
	path := filepath.Join(c.Dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		return err
	}
	var readers []io.Reader
	for _, f := range c.Files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: parsers.Builtin(), Log: c.Log, Ref: c.Ref,
		Stdin: io.MultiReader(readers...), Version: "demo"})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// yamlList writes paths as a YAML flow sequence.
func yamlList(paths []string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		quoted[i] = strconv.Quote(abs)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
