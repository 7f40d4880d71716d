package cli

import (
	"context"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/archive"
	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/manager"
)

// session is a Manager and an open location, for one command.
type session struct {
	m     *manager.Manager
	loc   location.Location
	store *archive.Store
}

func openSession(ctx context.Context, g *globalFlags, lf *locationFlags) (*session, error) {
	m, err := newManager(ctx, g)
	if err != nil {
		return nil, err
	}
	l, s, err := lf.open(ctx, g, m)
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	store := archive.NewStore(s, l.Bucket, l.Prefix)
	if servedByProcess(m, l.Provider) {
		// Uploads are spooled to a temporary file so that one ended by the
		// plugin process dying can be made again; an in-process store
		// streams.
		store.Spool = &archive.Spool{Logger: g.Logger}
	}
	return &session{m: m, loc: l, store: store}, nil
}

// servedByProcess reports whether the ObjectStore plugin provider resolves
// to a plugin process (transport gRPC) rather than a built-in.
func servedByProcess(m *manager.Manager, provider string) bool {
	name, err := rigging.ParseName(provider)
	if err != nil {
		return false
	}
	for _, p := range m.Plugins() {
		if p.Active && p.Kind == rigging.KindObjectStore && p.Name == name {
			return p.Transport == manager.TransportGRPC
		}
	}
	return false
}

func (s *session) close() { _ = s.m.Close() }
