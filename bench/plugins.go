package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/registry"
)

// NullStore is the ObjectStore the object-stream benchmarks use on every
// side (Velero's test child registers the same behaviour): PutObject
// reads the body and throws it away; GetObject of "size/N" streams N zero
// bytes. It measures the transport, not a disk.
const NullStore = "bench.rigging.dev/null"

// EnvPlugins, when "1", asks a process that starts a plugin server to
// register the benchmark plugins first (rigging bench sets it for the
// plugin processes it starts, which inherit it).
const EnvPlugins = "RIGGING_BENCH_PLUGINS"

// SleepAction is the BackupItemAction the parallel backup benchmarks add:
// on every item it waits SleepPerItem and returns the item unchanged, as
// an action that calls out to a service would. The backup group leaves it
// out.
const SleepAction = "bench.rigging.dev/sleep"

// SleepPerItem is how long SleepAction takes per item.
const SleepPerItem = time.Millisecond

// RegisterPlugins adds the benchmark plugins (NullStore, SleepAction) to r.
func RegisterPlugins(r *registry.Registry) {
	registry.RegisterIn(r, NullStore, func(*slog.Logger) (rigging.ObjectStore, error) { return nullStore{}, nil })
	registry.RegisterIn(r, SleepAction, newSleepAction)
}

func newSleepAction(*slog.Logger) (rigging.BackupItemAction, error) { return sleepAction{}, nil }

type sleepAction struct{}

func (sleepAction) Name() string { return SleepAction }

func (sleepAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{}, nil
}

func (sleepAction) Execute(ctx context.Context, item *unstructured.Unstructured, _ *rigging.Backup) (*unstructured.Unstructured, []rigging.ResourceIdentifier, error) {
	t := time.NewTimer(SleepPerItem)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("plugin %s: %w", SleepAction, ctx.Err())
	case <-t.C:
	}
	return item, nil, nil
}

// PreservesInput reports that Execute leaves its item alone.
func (sleepAction) PreservesInput() bool { return true }

// SizeKey is the key under which NullStore's GetObject returns size bytes.
func SizeKey(size int64) string { return "size/" + strconv.FormatInt(size, 10) }

type nullStore struct{}

func (nullStore) Init(context.Context, map[string]string) error { return nil }

func (nullStore) PutObject(_ context.Context, _, _ string, body io.Reader) error {
	_, err := io.Copy(io.Discard, body)
	return err
}

func (nullStore) ObjectExists(context.Context, string, string) (bool, error) { return true, nil }

func (nullStore) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(key, "size/"), 10, 64)
	if err != nil || !strings.HasPrefix(key, "size/") {
		return nil, fmt.Errorf("plugin %s: get %s/%s: %w", NullStore, bucket, key, rigging.ErrNotFound)
	}
	return io.NopCloser(fixture.Zeros(n)), nil
}

func (nullStore) ListCommonPrefixes(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (nullStore) ListObjects(context.Context, string, string) ([]string, error) { return nil, nil }
func (nullStore) DeleteObject(context.Context, string, string) error            { return nil }
func (nullStore) CreateSignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", nil
}
