package location

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFromFile(t *testing.T) {
	tests := []struct {
		file     string
		want     Location
		warnings []string // substrings, one per warning
	}{
		{
			file: "testdata/aws-bsl.yaml",
			want: Location{
				Name: "primary", Provider: "aws", Bucket: "shop-prod-backups", Prefix: "clusters/shop-prod",
				CACert: "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
				Config: map[string]string{"region": "eu-west-1", "s3ForcePathStyle": "true", "s3Url": "https://minio.example.com:9000", "checksumAlgorithm": ""},
			},
			warnings: []string{`spec.credential names Secret "velero-cloud-credentials" key "cloud"`},
		},
		{
			// JSON; the credential is covered by credentialsFile, so no warning.
			file: "testdata/minio-bsl.json",
			want: Location{
				Name: "default", Provider: "velero.io/aws", Bucket: "velero",
				Config: map[string]string{"region": "minio", "s3ForcePathStyle": "true", "s3Url": "http://minio.velero.svc:9000", "credentialsFile": "/etc/rigging/minio-credentials"},
			},
		},
		{
			// kubectl get bsl -o yaml prints a List; the default location wins.
			file: "testdata/bsl-list.yaml",
			want: Location{Name: "default", Provider: "velero.io/aws", Bucket: "velero-primary", Prefix: "prod", Config: map[string]string{"region": "us-east-1"}},
		},
		{
			// Several objects and locations: the one with spec.default wins.
			file: "testdata/install.yaml",
			want: Location{Name: "default", Provider: "rigging.dev/filesystem", Bucket: "local", Config: map[string]string{"root": "/var/lib/rigging"}},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			got, err := FromFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			warnings := got.Warnings
			got.Warnings = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q does not contain %q", warnings[i], w)
				}
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestFromFileNamed(t *testing.T) {
	l, err := FromFileNamed("testdata/bsl-list.yaml", "dr")
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "dr" || l.Bucket != "velero-dr" || l.Config["region"] != "eu-central-1" {
		t.Errorf("got %+v", l)
	}
	if l, err := FromFileNamed("testdata/install.yaml", "secondary"); err != nil || l.Provider != "gcp" {
		t.Errorf("secondary: %+v, %v", l, err)
	}
	_, err = FromFileNamed("testdata/bsl-list.yaml", "nope")
	if want := `testdata/bsl-list.yaml: no BackupStorageLocation named "nope" (it holds default, dr)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestFromFileErrors(t *testing.T) {
	const head = "apiVersion: velero.io/v1\nkind: BackupStorageLocation\nmetadata:\n  name: bad\n"
	tests := []struct {
		name    string
		body    string
		want    string // substring of the error, after the file name
		invalid bool   // the error wraps ErrInvalid
	}{
		{name: "missing bucket", body: head + "spec:\n  provider: aws\n  objectStorage:\n    prefix: x\n",
			want: `BackupStorageLocation "bad": invalid storage location: spec.objectStorage.bucket is empty`, invalid: true},
		{name: "bucket with slash", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: my-bucket/backups\n",
			want: `spec.objectStorage.bucket "my-bucket/backups" must not contain a '/'`, invalid: true},
		{name: "no objectStorage", body: head + "spec:\n  provider: aws\n", want: "spec.objectStorage is missing", invalid: true},
		{name: "no provider", body: head + "spec:\n  objectStorage:\n    bucket: b\n", want: "spec.provider is empty", invalid: true},
		{name: "invalid provider name", body: head + "spec:\n  provider: Velero.IO/aws\n  objectStorage:\n    bucket: b\n", want: "provider: invalid plugin name", invalid: true},
		{name: "unquoted boolean in config", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: b\n  config:\n    s3ForcePathStyle: true\n",
			want: "spec.config.s3ForcePathStyle: value true is a boolean, not a string (quote it)", invalid: true},
		{name: "unquoted secret in config is not echoed", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: b\n  config:\n    password: 271828\n",
			want: "spec.config.password: value [redacted] is a number, not a string (quote it)", invalid: true},
		{name: "config key the location sets", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: b\n  config:\n    bucket: other\n",
			want: `config key "bucket" is set from the location's bucket`, invalid: true},
		{name: "caCert not base64", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: b\n    caCert: \"not base64!\"\n",
			want: "spec.objectStorage.caCert: not valid base64", invalid: true},
		{name: "bucket is a number", body: head + "spec:\n  provider: aws\n  objectStorage:\n    bucket: 42\n",
			want: "spec.objectStorage.bucket: value is a JSON number, want string", invalid: true},
		{name: "wrong kind", body: "apiVersion: velero.io/v1\nkind: VolumeSnapshotLocation\nmetadata: {name: x}\nspec: {provider: aws}\n",
			want: "holds velero.io/v1 VolumeSnapshotLocation, not a velero.io/v1 BackupStorageLocation"},
		{name: "wrong apiVersion", body: "apiVersion: velero.io/v2alpha1\nkind: BackupStorageLocation\nmetadata: {name: x}\n",
			want: "holds velero.io/v2alpha1 BackupStorageLocation, not a velero.io/v1 BackupStorageLocation"},
		{name: "empty file", body: "# nothing here\n", want: "no objects (want a velero.io/v1 BackupStorageLocation)"},
		{name: "bad YAML", body: head + "spec:\n  provider: [aws\n", want: "document 1 (line 1): invalid YAML"},
		{name: "two locations, no default", body: head + "spec: {provider: aws, objectStorage: {bucket: a}}\n---\n" + strings.Replace(head, "bad", "bad2", 1) + "spec: {provider: aws, objectStorage: {bucket: b}}\n",
			want: "holds 2 BackupStorageLocations (bad, bad2) and 0 with spec.default true"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := FromFile(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to start with the file name and contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrInvalid); got != tt.invalid {
				t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v", got, tt.invalid)
			}
		})
	}
	if _, err := FromFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{in: "", want: map[string]string{}},
		{in: "region=us-east-1", want: map[string]string{"region": "us-east-1"}},
		{in: " region = eu-west-1 , s3ForcePathStyle=true,s3Url=http://h:9000/?a=b",
			want: map[string]string{"region": "eu-west-1", "s3ForcePathStyle": "true", "s3Url": "http://h:9000/?a=b"}},
		{in: "empty=", want: map[string]string{"empty": ""}},
		{in: "region", wantErr: `"region" is not key=value`},
		{in: "=v", wantErr: "empty key"},
		{in: "a=1,a=2", wantErr: `key "a" given twice`},
		{in: "a=1,", wantErr: `"" is not key=value`},
	}
	for _, tt := range tests {
		got, err := ParseConfig(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfig(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseConfig(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestKeyAndRel(t *testing.T) {
	tests := []struct {
		prefix string
		parts  []string
		want   string
	}{
		{"", []string{"backups", "b1", "velero-backup.json"}, "backups/b1/velero-backup.json"},
		{"clusters/prod", []string{"backups", "b1", "velero-backup.json"}, "clusters/prod/backups/b1/velero-backup.json"},
		{"", []string{"backups/"}, "backups/"},
		{"p", []string{"backups/", "b1/"}, "p/backups/b1/"},
		{"p", []string{"backups", "", "x"}, "p/backups/x"},
		{"p", nil, "p/"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		l := Location{Prefix: tt.prefix}
		got := l.Key(tt.parts...)
		if got != tt.want {
			t.Errorf("Key(%q) with prefix %q = %q, want %q", tt.parts, tt.prefix, got, tt.want)
		}
		if len(tt.parts) > 0 {
			if rel := l.Rel(got); rel != strings.TrimPrefix(got, tt.prefix+"/") || (tt.prefix == "" && rel != got) {
				t.Errorf("Rel(%q) = %q", got, rel)
			}
		}
	}
	if got := (Location{Prefix: "p"}).Rel("other/x"); got != "other/x" {
		t.Errorf("Rel outside the prefix = %q, want it unchanged", got)
	}
}

func TestDefaultAndInitConfig(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Provider != "rigging.dev/filesystem" || d.Bucket != "rigging" || d.Prefix != "" || d.Name != "default" {
		t.Errorf("Default() = %+v", d)
	}
	l := Location{Provider: "aws", Bucket: "b", Prefix: "p", CACert: "PEM", Config: map[string]string{"region": "r"}}
	want := map[string]string{"region": "r", "bucket": "b", "prefix": "p", "caCert": "PEM"}
	if got := l.InitConfig(); !maps.Equal(got, want) {
		t.Errorf("InitConfig() = %v, want %v", got, want)
	}
	if _, ok := l.Config["bucket"]; ok {
		t.Error("InitConfig modified Config")
	}
	// Without a CA bundle there is no caCert key, as in Velero.
	l.CACert = ""
	if _, ok := l.InitConfig()["caCert"]; ok {
		t.Error("caCert present without CACert")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		l    Location
		want string
	}{
		{Location{Bucket: "b"}, "provider is empty"},
		{Location{Provider: "aws"}, "bucket is empty"},
		{Location{Provider: "aws", Bucket: "a/b"}, "must not contain a '/'"},
		{Location{Provider: "aws", Bucket: "b", Prefix: "/p"}, "must not start or end with '/'"},
		{Location{Provider: "a/b/c", Bucket: "b"}, "invalid plugin name"},
		{Location{Provider: "aws", Bucket: "b", Config: map[string]string{"prefix": "x"}}, `config key "prefix"`},
	}
	for _, tt := range tests {
		err := tt.l.Validate()
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid with %q", tt.l, err, tt.want)
		}
	}
}
