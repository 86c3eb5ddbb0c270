// Package plugins runs parsers out of process: a vendor, or a member with
// an in-house device, writes a small Go program that implements the same
// detect.Parser as the built-in parsers and calls Serve from main; the
// collector starts that program with hashicorp/go-plugin, checks it against
// its pinned SHA-256, supervises it, and sends it batches of lines over
// gRPC. A crash or a hang in the plugin costs a restart, never the
// collector or a line.
//
// The protocol is in proto/parser.proto; batches are packed (codec.go) so
// that a plugin costs a few times the in-process parse, not a protobuf
// message per event.
package plugins

//go:generate protoc --proto_path=proto --go_out=internal/pluginpb --go_opt=paths=source_relative --go-grpc_out=internal/pluginpb --go-grpc_opt=paths=source_relative parser.proto

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/cyberalarm/cyberalarm/plugins/internal/pluginpb"
)

// ProtocolVersion is the plugin protocol this package speaks. A version
// number is never reused: a change that an older host or plugin cannot
// read takes the next number, and hosts keep serving the versions their
// plugins still speak.
const ProtocolVersion = 1

// The handshake cookie lets a plugin binary tell that a collector started
// it, and say so to a person who runs it by hand. It is a usability check,
// not a security boundary: the SHA-256 pin and the file permission checks
// are what keep an unexpected binary from running.
const (
	cookieKey   = "CYBERALARM_PARSER_PLUGIN"
	cookieValue = "d1c5a0e6-parser-plugin"
)

// maxMessage bounds a gRPC message either way: a batch of lines or of
// results. Batches are capped well below it (Spec.BatchBytes), so only a
// single huge line or a hostile plugin comes near it.
const maxMessage = 64 << 20

// pluginName is the name of the one plugin in a plugin binary's plugin set.
const pluginName = "parser"

// Flow-control windows large enough for a whole batch, so that one does
// not wait for window updates on its way.
const (
	streamWindow = 4 << 20
	connWindow   = 16 << 20
)

func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	return plugin.DefaultGRPCServer(append(opts,
		grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(connWindow)))
}

func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(connWindow),
	}
}

func handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   cookieKey,
		MagicCookieValue: cookieValue,
	}
}

// grpcPlugin connects go-plugin to the generated service: the server side
// serves srv, the client side returns a pluginpb.ParserClient.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv pluginpb.ParserServer
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterParserServer(s, g.srv)
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginpb.NewParserClient(c), nil
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)
