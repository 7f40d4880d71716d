package bench

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// LinkBinary makes dst a hard link to src, or a copy (mode 0755) when
// they are on different file systems.
func LinkBinary(src, dst string) error { return linkBinary(src, dst) }

// Discover returns the catalog of the plugin binaries in dir, with the
// discovery cache in cacheFile ("" for none), logging at info into
// io.Discard (hostLog).
func Discover(ctx context.Context, dir, cacheFile string) (*external.Catalog, error) {
	return external.Discover(ctx, external.Options{Dir: dir, CacheFile: cacheFile, Logger: hostLog})
}

// CatalogManager returns a Manager whose external plugins are those of
// dir (discovery cache in cacheFile, "" for none); they shadow the
// built-ins of the same names. Close it to stop the plugin processes.
func CatalogManager(ctx context.Context, dir, cacheFile string) (*manager.Manager, error) {
	return catalogManager(ctx, dir, cacheFile)
}

func catalogManager(ctx context.Context, dir, cacheFile string) (*manager.Manager, error) {
	c, err := Discover(ctx, dir, cacheFile)
	if err != nil {
		return nil, err
	}
	return manager.New(manager.Options{External: c, Logger: hostLog}), nil
}

// inMemory is a manager.Catalog serving the default registry's pod action
// and the benchmark plugins through the SDK's gRPC server on an in-memory
// listener, reached with the host's gRPC client.
type inMemory struct {
	cc  *grpc.ClientConn
	srv *grpc.Server
}

func inMemoryManager() (*manager.Manager, func(), error) {
	reg := registry.Default
	lis := bufconn.Listen(1 << 20)
	srv := plugin.NewGRPCServer(plugin.ServeOptions{Registry: reg, Logger: discard})
	go srv.Serve(lis)
	cc, err := grpc.NewClient("passthrough:///bench",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, nil, fmt.Errorf("in-memory gRPC: %w", err)
	}
	src := &inMemory{cc: cc, srv: srv}
	m := manager.New(manager.Options{Registry: registry.New(), External: src, Logger: hostLog})
	return m, func() { m.Close() }, nil
}

func (s *inMemory) Plugins() []manager.Info {
	return []manager.Info{{Kind: rigging.KindBackupItemAction, Name: ActionName, Source: "bufconn"}}
}

func (s *inMemory) Open(_ context.Context, kind rigging.Kind, name rigging.Name) (any, error) {
	return external.NewClient(kind, name, s.cc)
}

func (s *inMemory) Close() error {
	s.cc.Close()
	s.srv.Stop()
	return nil
}
