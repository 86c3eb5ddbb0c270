package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/collectorapp/buffer"
	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/daemon"
	"github.com/cyberalarm/cyberalarm/collectorapp/egress"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
)

func newEgress(e *env) *cobra.Command {
	var (
		path, format, refTime string
		sample                int
	)
	cmd := &cobra.Command{
		Use:   "egress --config FILE [--sample N] [--format NAME|auto] [FILE|-]...",
		Short: "Show exactly what this collector sends to central",
		Long: `Egress shows a batch exactly as it would leave the site, as indented JSON
before compression: detections, flow summaries and health, under the
config's privacy settings (pseudonyms, user names, URL paths).

With files, it runs them through this config's edge pipeline in a scratch
buffer and shows the batch they make; nothing is sent and the collector's
own buffer is not touched. Without files, it shows the next batch waiting
in the collector's buffer. --sample N keeps the first N detections and
summaries of the batch (0: all).`,
		RunE: func(cmd *cobra.Command, files []string) error {
			cfg, reg, err := loadConfig(cmd.Context(), e, path)
			if err != nil {
				return err
			}
			var b *detect.Batch
			if len(files) == 0 {
				b, err = nextBatch(cmd.Context(), cfg.Buffer.Path)
			} else {
				var ref time.Time
				if refTime != "" {
					if ref, err = time.Parse(time.RFC3339, refTime); err != nil {
						return fmt.Errorf("--ref-time: %q is not an RFC 3339 time", refTime)
					}
				}
				b, err = egressOf(cmd.Context(), e, cfg, reg, format, ref, files)
			}
			if err != nil {
				return err
			}
			if b == nil {
				fmt.Fprintln(e.stderr, "egress: no batch is waiting in the buffer")
				return nil
			}
			return egress.Preview(e.stdout, egress.Sample(b, sample))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "config", "", "the collector's config file")
	fl.IntVar(&sample, "sample", 10, "detections and summaries to show (0: all)")
	fl.StringVar(&format, "format", "auto", "parser name, or auto, for the files")
	fl.StringVar(&refTime, "ref-time", "", "RFC 3339 reference time for stamps without a year (default: now)")
	cmd.MarkFlagRequired("config") //nolint:errcheck
	return cmd
}

// egressOf runs files through cfg's pipeline into a scratch buffer and
// returns the first batch sealed from it, merged with the rest so that
// --sample chooses from everything.
func egressOf(ctx context.Context, e *env, cfg *config.Config, reg *parsers.Registry, format string, ref time.Time, files []string) (*detect.Batch, error) {
	scratch, err := os.MkdirTemp("", "cyberalarm-egress-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	c := *cfg
	c.Inputs = []config.Input{{Name: "egress", Type: config.Stdin, Format: format, Timezone: "UTC", MaxMessageBytes: 1 << 20}}
	c.Buffer.Path = filepath.Join(scratch, "buffer.db")
	c.Metrics.Enabled = false
	var readers []io.Reader
	for _, f := range files {
		if f == "-" {
			readers = append(readers, e.stdin)
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	d, err := daemon.New(daemon.Options{Config: &c, Registry: reg, Log: newLogger(io.Discard, c.Log),
		Stdin: io.MultiReader(readers...), Offline: true, Version: Version, Ref: ref, Plugins: e.plugins})
	if err != nil {
		return nil, err
	}
	if err := d.Run(ctx); err != nil {
		return nil, err
	}
	buf, err := buffer.Open(buffer.Options{Path: c.Buffer.Path})
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	for {
		sealed, err := buf.Seal(ctx, buffer.SealMeta{CollectorID: c.Collector.ID, MemberID: c.Collector.Member})
		if err != nil {
			return nil, err
		}
		if !sealed {
			break
		}
	}
	var all *detect.Batch
	for {
		b, id, err := oldest(ctx, buf)
		if err != nil || b == nil {
			return all, err
		}
		if all == nil {
			all = b
		} else {
			all.Detections = append(all.Detections, b.Detections...)
			all.Summaries = append(all.Summaries, b.Summaries...)
		}
		if err := buf.Delivered(id); err != nil {
			return nil, err
		}
	}
}

// nextBatch reads the next batch waiting in the collector's buffer.
func nextBatch(ctx context.Context, path string) (*detect.Batch, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("buffer.path: %w", err)
	}
	buf, err := buffer.Open(buffer.Options{Path: path})
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	b, _, err := oldest(ctx, buf)
	return b, err
}

func oldest(ctx context.Context, buf *buffer.Buffer) (*detect.Batch, string, error) {
	id, body, ok, err := buf.Oldest(ctx)
	if err != nil || !ok {
		return nil, "", err
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return nil, "", err
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(body, nil)
	if err != nil {
		return nil, "", fmt.Errorf("batch %s: %w", id, err)
	}
	var b detect.Batch
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, "", fmt.Errorf("batch %s: %w", id, err)
	}
	if b.BatchID != id {
		return nil, "", errors.New("batch id does not match its row")
	}
	return &b, id, nil
}
