package location

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// recordingStore is an ObjectStore that records its Init config.
type recordingStore struct {
	got     *map[string]string
	initErr error
}

func (s recordingStore) Init(_ context.Context, cfg map[string]string) error {
	*s.got = maps.Clone(cfg)
	return s.initErr
}
func (recordingStore) PutObject(context.Context, string, string, io.Reader) error { return nil }
func (recordingStore) ObjectExists(context.Context, string, string) (bool, error) {
	return false, nil
}
func (recordingStore) GetObject(context.Context, string, string) (io.ReadCloser, error) {
	return nil, rigging.ErrNotFound
}
func (recordingStore) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (recordingStore) ListObjects(context.Context, string, string) ([]string, error) { return nil, nil }
func (recordingStore) DeleteObject(context.Context, string, string) error            { return nil }
func (recordingStore) CreateSignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", nil
}

func TestOpen(t *testing.T) {
	var got map[string]string
	reg := registry.New()
	registry.RegisterIn(reg, "example.com/rec", func(*slog.Logger) (rigging.ObjectStore, error) {
		return recordingStore{got: &got}, nil
	})
	registry.RegisterIn(reg, "example.com/fails", func(*slog.Logger) (rigging.ObjectStore, error) {
		return recordingStore{got: &got, initErr: errors.New("no such region")}, nil
	})
	m := manager.New(manager.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	ctx := context.Background()

	l := Location{Name: "primary", Provider: "example.com/rec", Bucket: "b", Prefix: "p", CACert: "PEM", Config: map[string]string{"region": "r"}}
	if _, err := Open(ctx, m, l); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"region": "r", "bucket": "b", "prefix": "p", "caCert": "PEM"}; !maps.Equal(got, want) {
		t.Errorf("Init config = %v, want %v", got, want)
	}

	tests := []struct {
		l    Location
		want string
		is   error
	}{
		{Location{Name: "x", Provider: "example.com/rec"}, "location x: invalid storage location: bucket is empty", ErrInvalid},
		{Location{Name: "x", Provider: "example.com/missing", Bucket: "b"}, "location x: ", rigging.ErrPluginNotFound},
		{Location{Name: "x", Provider: "example.com/fails", Bucket: "b"}, "location x: plugin example.com/fails: Init: no such region", nil},
	}
	for _, tt := range tests {
		_, err := Open(ctx, m, tt.l)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Open(%v) = %v, want prefix %q", tt.l, err, tt.want)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Open(%v) = %v, want it to wrap %v", tt.l, err, tt.is)
		}
	}
}
