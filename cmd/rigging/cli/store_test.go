package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreRoundTrip(t *testing.T) {
	home := t.TempDir()
	t.Setenv("RIGGING_HOME", home)
	src := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(src, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	runOK(t, "", "store", "put", "backups/b1/hello.txt", src)
	runOK(t, "from stdin", "store", "put", "backups/b2/stdin.txt", "-")
	runOK(t, "", "store", "put", "restores/r1/log.gz", src)

	// The default location is bucket "rigging" of the filesystem store under the data directory.
	if b, err := os.ReadFile(filepath.Join(home, "rigging", "backups", "b1", "hello.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("object file: %q, %v", b, err)
	}
	if got := runOK(t, "", "store", "get", "backups/b2/stdin.txt"); got != "from stdin" {
		t.Errorf("get = %q", got)
	}
	if got, want := runOK(t, "", "store", "ls"), "backups/b1/hello.txt\nbackups/b2/stdin.txt\nrestores/r1/log.gz\n"; got != want {
		t.Errorf("ls = %q, want %q", got, want)
	}
	if got, want := runOK(t, "", "store", "ls", "backups/"), "backups/b1/hello.txt\nbackups/b2/stdin.txt\n"; got != want {
		t.Errorf("ls backups/ = %q, want %q", got, want)
	}
	if got, want := runOK(t, "", "store", "prefixes", "backups/", "/"), "backups/b1/\nbackups/b2/\n"; got != want {
		t.Errorf("prefixes = %q, want %q", got, want)
	}
	if got, want := runOK(t, "", "store", "prefixes", "", "/"), "backups/\nrestores/\n"; got != want {
		t.Errorf("prefixes at the root = %q, want %q", got, want)
	}
	if got := runOK(t, "", "store", "exists", "backups/b1/hello.txt"); got != "true\n" {
		t.Errorf("exists = %q", got)
	}
	if got := runOK(t, "", "store", "url", "backups/b1/hello.txt", "--ttl", "1h"); !strings.HasPrefix(got, "file://") || !strings.Contains(got, "backups/b1/hello.txt") {
		t.Errorf("url = %q", got)
	}
	runOK(t, "", "store", "rm", "backups/b1/hello.txt")
	runOK(t, "", "store", "rm", "backups/b1/hello.txt") // deleting a missing key is fine
	if got := runOK(t, "", "store", "exists", "backups/b1/hello.txt"); got != "false\n" {
		t.Errorf("exists after rm = %q", got)
	}
	_, errs, code := run(t, "", "store", "get", "backups/b1/hello.txt")
	if code != ExitFailure || !strings.Contains(errs, "get backups/b1/hello.txt: ") || !strings.Contains(errs, "not found") {
		t.Errorf("get of a removed key: exit %d, stderr %q", code, errs)
	}
}

func TestStoreLocation(t *testing.T) {
	root := t.TempDir()
	t.Setenv("RIGGING_HOME", t.TempDir())
	bsl := filepath.Join(t.TempDir(), "bsl.yaml")
	body := "apiVersion: velero.io/v1\nkind: BackupStorageLocation\nmetadata: {name: local, namespace: velero}\n" +
		"spec:\n  provider: rigging.dev/filesystem\n  objectStorage: {bucket: vault, prefix: /clusters/prod/}\n  config: {root: " + root + "}\n"
	if err := os.WriteFile(bsl, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	runOK(t, "data", "store", "--location", bsl, "put", "backups/x", "-")
	if b, err := os.ReadFile(filepath.Join(root, "vault", "clusters", "prod", "backups", "x")); err != nil || string(b) != "data" {
		t.Fatalf("object not at <root>/<bucket>/<prefix>/<key>: %q, %v", b, err)
	}
	// Keys printed are relative to the prefix.
	if got := runOK(t, "", "store", "--location", bsl, "ls"); got != "backups/x\n" {
		t.Errorf("ls = %q", got)
	}
	if got := runOK(t, "", "store", "--location", bsl, "prefixes", "", "/"); got != "backups/\n" {
		t.Errorf("prefixes = %q", got)
	}
	// Flags override the file: another prefix of the same bucket is empty.
	if got := runOK(t, "", "store", "--location", bsl, "--prefix", "clusters/dev", "ls"); got != "" {
		t.Errorf("ls with --prefix override = %q", got)
	}
	// --location-name picks one of several locations.
	two := filepath.Join(t.TempDir(), "bsls.yaml")
	other := strings.NewReplacer("name: local", "name: other", "bucket: vault", "bucket: other").Replace(body)
	if err := os.WriteFile(two, []byte(body+"---\n"+other), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := run(t, "", "store", "--location", two, "ls"); code != ExitFailure || !strings.Contains(errs, "holds 2 BackupStorageLocations (local, other)") {
		t.Errorf("two locations without a name: exit %d, %s", code, errs)
	}
	if got := runOK(t, "", "store", "--location", two, "--location-name", "local", "get", "backups/x"); got != "data" {
		t.Errorf("get with --location-name = %q", got)
	}
	// The same location from flags alone.
	if got := runOK(t, "", "store", "--bucket", "vault", "--prefix", "clusters/prod", "--config", "root="+root, "get", "backups/x"); got != "data" {
		t.Errorf("get with flags = %q", got)
	}
}

func TestStoreErrors(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	badBSL := filepath.Join(t.TempDir(), "bsl.yaml")
	if err := os.WriteFile(badBSL, []byte("apiVersion: velero.io/v1\nkind: BackupStorageLocation\nmetadata: {name: x}\nspec: {provider: aws, objectStorage: {bucket: a/b}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"provider without bucket", []string{"store", "--provider", "aws", "ls"}, ExitUsage, "--bucket is required with --provider aws"},
		{"bucket with slash", []string{"store", "--bucket", "a/b", "ls"}, ExitUsage, "must not contain a '/'"},
		{"malformed config", []string{"store", "--config", "root", "ls"}, ExitUsage, `--config: config "root": "root" is not key=value`},
		{"reserved config key", []string{"store", "--config", "bucket=x", "ls"}, ExitUsage, `config key "bucket"`},
		{"absolute key", []string{"store", "get", "/etc/passwd"}, ExitUsage, "drop the leading '/'"},
		{"missing key argument", []string{"store", "get"}, ExitUsage, "accepts 1 arg(s)"},
		{"empty delimiter", []string{"store", "prefixes", "backups/", ""}, ExitUsage, "DELIMITER is empty"},
		{"bad ttl", []string{"store", "url", "k", "--ttl", "-1s"}, ExitUsage, "want a positive duration"},
		{"unknown provider", []string{"store", "--provider", "example.com/nope", "--bucket", "b", "ls"}, ExitFailure, "plugin not found"},
		{"bad location file", []string{"store", "--location", badBSL, "ls"}, ExitFailure, badBSL + `: BackupStorageLocation "x": invalid storage location: spec.objectStorage.bucket "a/b"`},
		{"escaping key", []string{"store", "get", "../../etc/passwd"}, ExitFailure, "get ../../etc/passwd"},
		{"missing file to put", []string{"store", "put", "k", "/nonexistent/file"}, ExitFailure, "put k: open /nonexistent/file"},
		{"location name without a file", []string{"store", "--location-name", "dr", "ls"}, ExitUsage, "--location-name needs --location"},
		{"unknown location name", []string{"store", "--location", badBSL, "--location-name", "dr", "ls"}, ExitFailure, `no BackupStorageLocation named "dr" (it holds x)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := run(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q, want it to contain %q", code, tt.code, errs, tt.want)
			}
		})
	}
}
