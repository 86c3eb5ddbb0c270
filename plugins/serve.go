package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/plugins/internal/pluginpb"
)

// Serve runs a parser plugin. Call it from main, and nothing else: it
// serves the collector that started the binary until the collector ends
// it, then returns. Run by hand, the binary says that it is a plugin and
// exits 1; an Info that is not valid is reported on stderr, exit 1.
//
// Anything the parser writes to stderr goes to the collector's log, with
// the plugin's name. Stdout belongs to the protocol.
func Serve(info Info) {
	if err := info.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
	if info.New == nil {
		fmt.Fprintf(os.Stderr, "plugin: parser %s has no New\n", info.Name)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(),
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {pluginName: &grpcPlugin{srv: &server{info: info}}},
		},
		GRPCServer: grpcServer,
		Logger:     hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Error, JSONFormat: false}),
	})
}

// server is the plugin side of the protocol.
type server struct {
	pluginpb.UnimplementedParserServer
	info Info
}

func (s *server) Describe(context.Context, *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	r := &pluginpb.DescribeResponse{
		Name: s.info.Name, Description: s.info.Description, Tags: s.info.Tags,
		Generic: s.info.Generic, SdkVersion: fmt.Sprintf("protocol %d", ProtocolVersion),
	}
	for _, sig := range s.info.Signatures {
		r.Signatures = append(r.Signatures, &pluginpb.Signature{Prefix: sig.Prefix, Contains: sig.Contains, Regexp: sig.Regexp})
	}
	return r, nil
}

// Parse serves one stream with one parser instance, batch by batch, in
// order.
func (s *server) Parse(stream pluginpb.Parser_ParseServer) error {
	w := streamParser{parser: s.info.New(), name: s.info.Name}
	var lines [][]byte
	var out ResultWriter
	var ev detect.Event
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		lines, err = DecodeLines(lines[:0], b.GetLines())
		if err != nil {
			return err
		}
		if err := w.setClock(b.GetRefUnixNano(), b.GetZone()); err != nil {
			return err
		}
		out.Reset()
		for _, l := range lines {
			err := w.parse(l, &ev)
			out.Add(&ev, err)
		}
		if err := stream.Send(&pluginpb.EventBatch{Seq: b.GetSeq(), Results: out.Bytes()}); err != nil {
			return err
		}
	}
}

// streamParser does for a plugin what parsers.Stream does in process: the
// syslog header, the parser, and the fields the framework fills for every
// parser, except network.direction, which depends on the member's internal
// ranges and is filled by the host.
type streamParser struct {
	parser detect.Parser
	name   string
	rec    detect.Record
	zone   string
	hosts  lex.Interner
}

func (w *streamParser) setClock(refNano int64, zone string) error {
	w.rec.Ref = time.Time{}
	if refNano != 0 {
		w.rec.Ref = time.Unix(0, refNano).UTC()
	}
	if zone == w.zone {
		return nil
	}
	w.zone, w.rec.Loc = zone, nil
	if zone == "" {
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("time zone %q: %w", zone, err)
	}
	w.rec.Loc = loc
	return nil
}

func (w *streamParser) parse(line []byte, ev *detect.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", parsers.ErrPanic, w.name, r)
		}
	}()
	ev.Reset()
	rec := &w.rec
	rec.Raw = line
	syslog.Parse(rec)
	ev.Dataset = w.name
	if err := w.parser.Parse(rec, ev); err != nil {
		return err
	}
	if ev.Timestamp.IsZero() {
		switch {
		case !rec.Time.IsZero():
			ev.Timestamp = rec.Time
		case !rec.Ref.IsZero():
			ev.Timestamp = rec.Ref
		default:
			ev.Timestamp = time.Now()
		}
	}
	if ev.Observer.Hostname == "" && len(rec.Host) > 0 {
		ev.Observer.Hostname = w.hosts.Bytes(rec.Host)
	}
	return nil
}
