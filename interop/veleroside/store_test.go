package veleroside

import (
	"context"
	"io"
	"time"

	"github.com/vmware-tanzu/velero/pkg/plugin/velero"

	"github.com/rigging-dev/rigging"
)

// veleroStore presents a rigging.ObjectStore as Velero's velero.ObjectStore,
// so Velero's persistence package reads and writes through rigging's own
// store implementation.
type veleroStore struct{ st rigging.ObjectStore }

var _ velero.ObjectStore = veleroStore{}

func (s veleroStore) Init(config map[string]string) error {
	return s.st.Init(context.Background(), config)
}

func (s veleroStore) PutObject(bucket, key string, body io.Reader) error {
	return s.st.PutObject(context.Background(), bucket, key, body)
}

func (s veleroStore) ObjectExists(bucket, key string) (bool, error) {
	return s.st.ObjectExists(context.Background(), bucket, key)
}

func (s veleroStore) GetObject(bucket, key string) (io.ReadCloser, error) {
	return s.st.GetObject(context.Background(), bucket, key)
}

func (s veleroStore) ListCommonPrefixes(bucket, prefix, delimiter string) ([]string, error) {
	return s.st.ListCommonPrefixes(context.Background(), bucket, prefix, delimiter)
}

func (s veleroStore) ListObjects(bucket, prefix string) ([]string, error) {
	return s.st.ListObjects(context.Background(), bucket, prefix)
}

func (s veleroStore) DeleteObject(bucket, key string) error {
	return s.st.DeleteObject(context.Background(), bucket, key)
}

func (s veleroStore) CreateSignedURL(bucket, key string, ttl time.Duration) (string, error) {
	return s.st.CreateSignedURL(context.Background(), bucket, key, ttl)
}

// getter is persistence.ObjectStoreGetter over one store.
type getter struct{ st velero.ObjectStore }

func (g getter) GetObjectStore(string) (velero.ObjectStore, error) { return g.st, nil }
