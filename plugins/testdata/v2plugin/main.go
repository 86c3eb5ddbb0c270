// Command v2plugin speaks only a protocol version the host does not, to
// test the host's message for a version mismatch.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

type v2 struct{ plugin.NetRPCUnsupportedPlugin }

func (v2) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  2,
			MagicCookieKey:   "CYBERALARM_PARSER_PLUGIN",
			MagicCookieValue: "d1c5a0e6-parser-plugin",
		},
		VersionedPlugins: map[int]plugin.PluginSet{2: {"parser": v2{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

func (v2) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}
