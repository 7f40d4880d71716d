package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/providers/filesystem"
	"github.com/rigging-dev/rigging/registry"
)

// vaultStore is the filesystem store taking, and ignoring, config keys that
// hold secrets: password and token (secret by the default rule), vaultKey
// (secret because the store declares it), and region and endpoint (not
// secret; the endpoint's URL may carry a password).
type vaultStore struct{ *filesystem.Store }

var vaultKeys = []string{"password", "apiToken", "vaultKey", "region", "endpoint"}

func (s vaultStore) Init(ctx context.Context, config map[string]string) error {
	cfg := maps.Clone(config)
	for _, k := range vaultKeys {
		delete(cfg, k)
	}
	return s.Store.Init(ctx, cfg)
}

func (vaultStore) SecretKeys() []string { return []string{"vaultKey"} }

func init() {
	// Registered in the test binary only.
	registry.Register("test.rigging.dev/vault-store", func(*slog.Logger) (rigging.ObjectStore, error) {
		return vaultStore{filesystem.New()}, nil
	})
}

// The secret values of the test locations; none may appear in any output.
var secretValues = []string{"hunter2-pw", "tok-3f9a", "s.vault-77", "urlpass-5"}

const vaultConfig = "password=hunter2-pw,apiToken=tok-3f9a,vaultKey=s.vault-77,region=eu-1,endpoint=https://minio:urlpass-5@minio.local:9000"

const vaultBSL = `apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: vault
  namespace: velero
spec:
  provider: test.rigging.dev/vault-store
  objectStorage:
    bucket: rigging
    prefix: team
  config:
    password: hunter2-pw
    apiToken: tok-3f9a
    vaultKey: s.vault-77
    region: eu-1
    endpoint: https://minio:urlpass-5@minio.local:9000
`

func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secretValues {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

// TestDescribeRedactsLocationConfig backs up against a location whose config
// holds secrets, given as flags or as a BackupStorageLocation file, with
// debug logging, and checks that neither describe (text and JSON) nor the
// logs show a secret value, while the non-secret config is shown.
func TestDescribeRedactsLocationConfig(t *testing.T) {
	bsl := filepath.Join(t.TempDir(), "bsl.yaml")
	if err := os.WriteFile(bsl, []byte(vaultBSL), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		loc      []string
		wantName string
	}{
		{"flags", []string{"--provider", "test.rigging.dev/vault-store", "--bucket", "rigging", "--prefix", "team", "--config", vaultConfig}, "default"},
		{"location file", []string{"--location", bsl}, "vault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RIGGING_HOME", t.TempDir())
			cmd := func(args ...string) []string {
				return append(append([]string{"--log-level", "debug", "backup"}, tt.loc...), args...)
			}
			out, errs, code := run(t, "", cmd("create", "vaulted", "--from", clusterExportDir, "--include-namespaces", "shop", "--no-progress")...)
			if code != ExitOK {
				t.Fatalf("create: exit %d\n%s", code, errs)
			}
			assertNoSecrets(t, "create's output", out+errs)
			if !strings.Contains(errs, "opening storage location") || !strings.Contains(errs, "config.password="+rigging.Redacted) {
				t.Errorf("the debug log does not show the location with its config redacted:\n%.2000s", errs)
			}

			out, errs, code = run(t, "", cmd("describe", "vaulted", "--details")...)
			if code != ExitOK {
				t.Fatalf("describe: exit %d\n%s", code, errs)
			}
			assertNoSecrets(t, "describe", out+errs)
			for _, want := range []string{
				"Storage location:   " + tt.wantName,
				"  Provider:         test.rigging.dev/vault-store",
				"  Bucket:           rigging",
				"  Prefix:           team",
				"  Config:",
				"    apiToken:  [redacted]",
				"    endpoint:  https://minio:[redacted]@minio.local:9000",
				"    password:  [redacted]",
				"    region:    eu-1",
				"    vaultKey:  [redacted]",
			} {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("describe lacks the line %q:\n%s", want, out)
				}
			}

			out, errs, code = run(t, "", cmd("describe", "vaulted", "-o", "json")...)
			if code != ExitOK {
				t.Fatalf("describe -o json: exit %d\n%s", code, errs)
			}
			assertNoSecrets(t, "describe -o json", out+errs)
			var d struct {
				Location redactedLocation `json:"location"`
			}
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			want := redactedLocation{Name: tt.wantName, Provider: "test.rigging.dev/vault-store", Bucket: "rigging", Prefix: "team", Config: map[string]string{
				"password": rigging.Redacted, "apiToken": rigging.Redacted, "vaultKey": rigging.Redacted,
				"region": "eu-1", "endpoint": "https://minio:[redacted]@minio.local:9000",
			}}
			if d.Location.Name != want.Name || d.Location.Provider != want.Provider || d.Location.Bucket != want.Bucket ||
				d.Location.Prefix != want.Prefix || !maps.Equal(d.Location.Config, want.Config) {
				t.Errorf("describe -o json: location %+v, want %+v", d.Location, want)
			}

			out, errs, code = run(t, "", cmd("list")...)
			if code != ExitOK || !strings.Contains(out, "vaulted") {
				t.Fatalf("list: exit %d\n%s%s", code, out, errs)
			}
			assertNoSecrets(t, "list", out+errs)
			out, errs, code = run(t, "", append(append([]string{"--log-level", "debug", "store"}, tt.loc...), "ls", "backups/")...)
			if code != ExitOK || !strings.Contains(out, "backups/vaulted/velero-backup.json") {
				t.Fatalf("store ls: exit %d\n%s%s", code, out, errs)
			}
			assertNoSecrets(t, "store ls", out+errs)
		})
	}
}

// TestDescribeDefaultLocation: the default location has no config; describe
// says so.
func TestDescribeDefaultLocation(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	runOK(t, "", "backup", "create", "plain", "--from", demo+"/pod-two-pvcs.yaml", "--no-progress")
	out := runOK(t, "", "backup", "describe", "plain")
	for _, want := range []string{"Storage location:   default\n", "  Provider:         rigging.dev/filesystem\n", "  Prefix:           <none>\n", "  Config:           <none>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Read from:") {
		t.Errorf("describe names the location twice:\n%s", out)
	}
}

// TestConfigFlagErrorsRedacted: a malformed --config is refused with an
// error that quotes it with its secret values redacted.
func TestConfigFlagErrorsRedacted(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"store", []string{"store", "--provider", "test.rigging.dev/vault-store", "--bucket", "b", "--config", "password=hunter2-pw,vaultKey=s.vault-77,region", "ls"},
			`--config: config "password=[redacted],vaultKey=[redacted],region": "region" is not key=value`},
		{"backup, key given twice", []string{"backup", "--config", "apiToken=tok-3f9a,apiToken=x", "list"},
			`--config: config "apiToken=[redacted],apiToken=[redacted]": key "apiToken" given twice`},
		{"verify", []string{"verify", "--kind", "ObjectStore", "--name", "test.rigging.dev/vault-store", "--config", "vaultKey=s.vault-77,junk"},
			`--config: config "vaultKey=[redacted],junk": "junk" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := run(t, "", tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (usage)", code, ExitUsage)
			}
			assertNoSecrets(t, "the error", out+errs)
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not contain %q", errs, tt.want)
			}
		})
	}
}

// TestPluginConfigLoggedRedacted: --log-level debug logs each plugin's
// --plugin-config section with its secret values redacted.
func TestPluginConfigLoggedRedacted(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "plugins.yaml")
	if err := os.WriteFile(cfg, []byte("velero.io/change-storage-class:\n  gp2: gp3\n  apiToken: tok-3f9a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "", "--log-level", "debug", "--plugin-config", cfg, "plugins")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	assertNoSecrets(t, "the debug log", errs)
	for _, want := range []string{"plugin=velero.io/change-storage-class", "config.apiToken=" + rigging.Redacted, "config.gp2=gp3"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the debug log lacks %q:\n%s", want, errs)
		}
	}
}

func TestRedactConfigFlag(t *testing.T) {
	tests := []struct {
		in, want string
		secret   []string
	}{
		{"", "", nil},
		{"region=eu-1", "region=eu-1", nil},
		{"password=x, region = eu-1", "password=[redacted], region = eu-1", nil},
		{"pin=1234,junk,=v", "pin=[redacted],junk,=v", []string{"pin"}},
		{"s3Url=https://u:p@h", "s3Url=https://u:[redacted]@h", nil},
	}
	for _, tt := range tests {
		if got := redactConfigFlag(tt.in, tt.secret...); got != tt.want {
			t.Errorf("redactConfigFlag(%q, %v) = %q, want %q", tt.in, tt.secret, got, tt.want)
		}
	}
}
