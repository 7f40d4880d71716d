package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

// Direct calls the registered factory in-process.
func Direct(reg *registry.Registry, kind rigging.Kind, name rigging.Name, log *slog.Logger) Transport {
	if log == nil {
		log = slog.Default()
	}
	return Transport{Name: "direct", Open: func(context.Context) (any, error) {
		e, ok := reg.Lookup(kind, name)
		if !ok {
			return nil, fmt.Errorf("%w: %s %s", rigging.ErrPluginNotFound, kind, name)
		}
		return e.New(log)
	}}
}

// InMemory serves the plugin with the SDK's gRPC server on an in-memory
// listener and reaches it with the host's client. stop releases both.
func InMemory(reg *registry.Registry, kind rigging.Kind, name rigging.Name, log *slog.Logger) (t Transport, stop func(), err error) {
	lis := bufconn.Listen(1 << 20)
	srv := plugin.NewGRPCServer(plugin.ServeOptions{Registry: reg, Logger: log,
		Select: func(k rigging.Kind, n rigging.Name) bool { return k == kind && n == name }})
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///conformance",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return Transport{}, nil, err
	}
	stop = func() {
		cc.Close()
		srv.Stop()
	}
	return Transport{Name: "grpc", Open: func(context.Context) (any, error) { return external.NewClient(kind, name, cc) }}, stop, nil
}

// Subprocess reaches the plugin through a catalog of plugin binaries (one
// supervised process per binary).
func Subprocess(c *external.Catalog, kind rigging.Kind, name rigging.Name) Transport {
	return Transport{Name: "subprocess", Open: func(ctx context.Context) (any, error) { return c.Open(ctx, kind, name) }}
}
