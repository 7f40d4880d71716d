package aws

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/manager"
)

// TestBackupStorageLocation opens the store the way `rigging store
// --location testdata/bsl.yaml` does (location.FromFile, then location.Open
// through a Manager, so Init gets the BSL's config plus bucket and prefix),
// with s3Url and credentialsFile pointed at the test server, then puts,
// lists, gets and signs a URL.
func TestBackupStorageLocation(t *testing.T) {
	e := needS3(t)
	ctx := context.Background()
	loc, err := location.FromFile("testdata/bsl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Provider != "aws" || loc.Bucket != "velero-backups" || loc.Prefix != "cluster-a" {
		t.Fatalf("testdata/bsl.yaml read as %+v", loc)
	}
	for _, k := range []string{KeyRegion, KeyS3ForcePathStyle, KeyS3URL, KeyCredentialsFile} {
		if loc.Config[k] == "" {
			t.Fatalf("testdata/bsl.yaml has no config.%s", k)
		}
	}
	loc.Bucket = e.bucket(t)
	loc.Config[KeyS3URL] = e.endpoint
	loc.Config[KeyRegion] = e.region
	loc.Config[KeyCredentialsFile] = e.credentialsFile(t, e.access, e.secret)

	m := manager.New(manager.Options{})
	defer m.Close()
	store, err := location.Open(ctx, m, loc)
	if err != nil {
		t.Fatal(err)
	}
	key := loc.Key("backups", "b1", "velero-backup.json")
	if key != "cluster-a/backups/b1/velero-backup.json" {
		t.Fatalf("Key = %q", key)
	}
	if err := store.PutObject(ctx, loc.Bucket, key, strings.NewReader(`{"kind":"Backup"}`)); err != nil {
		t.Fatal(err)
	}
	prefixes, err := store.ListCommonPrefixes(ctx, loc.Bucket, loc.Key("backups/"), "/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cluster-a/backups/b1/"}; !slices.Equal(prefixes, want) {
		t.Errorf("ListCommonPrefixes = %q; want %q", prefixes, want)
	}
	rc, err := store.GetObject(ctx, loc.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != `{"kind":"Backup"}` {
		t.Errorf("GetObject = %q, %v", got, err)
	}
	u, err := store.CreateSignedURL(ctx, loc.Bucket, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"kind":"Backup"}` {
		t.Errorf("GET %s: %s %q", u, resp.Status, body)
	}
}
