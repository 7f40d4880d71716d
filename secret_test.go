package rigging_test

import (
	"maps"
	"testing"

	"github.com/rigging-dev/rigging"
)

func TestIsSecretKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true},
		{"Password", true},
		{"secretAccessKey", true},
		{"aws_session_token", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"accessKey", true},
		{"storage-account-key", true},
		{"apiKey", true},
		{"privateKey", true},
		{"customerKeyEncryptionSecret", true}, // errs towards hiding a reference
		{"credentials", true},
		{"passphrase", true},
		{"credentialsFile", false},
		{"passwordFile", false},
		{"tokenPath", false},
		{"storageAccountKeyEnvVar", false},
		{"customerKeyEncryptionFile", false},
		{"kmsKeyId", false},
		{"caCert", false},
		{"region", false},
		{"s3Url", false},
		{"bucket", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := rigging.IsSecretKey(tt.key); got != tt.want {
			t.Errorf("IsSecretKey(%q) = %t, want %t", tt.key, got, tt.want)
		}
	}
}

func TestRedactConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    map[string]string
		secret []string
		want   map[string]string
	}{
		{"nil", nil, nil, nil},
		{"empty", map[string]string{}, nil, map[string]string{}},
		{"nothing secret",
			map[string]string{"region": "eu-west-1", "credentialsFile": "/etc/creds", "kmsKeyId": "alias/k"}, nil,
			map[string]string{"region": "eu-west-1", "credentialsFile": "/etc/creds", "kmsKeyId": "alias/k"}},
		{"default rule",
			map[string]string{"password": "hunter2", "secretAccessKey": "wJalr", "region": "us-east-1"}, nil,
			map[string]string{"password": rigging.Redacted, "secretAccessKey": rigging.Redacted, "region": "us-east-1"}},
		{"declared keys, any case",
			map[string]string{"vaultKey": "s.abc", "Pin": "1234", "region": "r"}, []string{"vaultkey", "pin"},
			map[string]string{"vaultKey": rigging.Redacted, "Pin": rigging.Redacted, "region": "r"}},
		{"declared keys cannot unhide the default rule",
			map[string]string{"token": "t0k"}, []string{"other"},
			map[string]string{"token": rigging.Redacted}},
		{"an empty secret shows as unset",
			map[string]string{"password": ""}, nil,
			map[string]string{"password": ""}},
		{"URL password",
			map[string]string{"s3Url": "https://minio:s3cr3t@minio.local:9000/x?y=1", "publicUrl": "https://host/p", "other": "user@host"}, nil,
			map[string]string{"s3Url": "https://minio:[redacted]@minio.local:9000/x?y=1", "publicUrl": "https://host/p", "other": "user@host"}},
		{"URL user without password",
			map[string]string{"s3Url": "https://minio@minio.local"}, nil,
			map[string]string{"s3Url": "https://minio@minio.local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := maps.Clone(tt.cfg)
			got := rigging.RedactConfig(tt.cfg, tt.secret...)
			if !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("RedactConfig(%v, %v) = %v, want %v", tt.cfg, tt.secret, got, tt.want)
			}
			if !maps.Equal(tt.cfg, orig) {
				t.Errorf("RedactConfig modified its argument: %v, was %v", tt.cfg, orig)
			}
		})
	}
}

type secretPlugin struct{}

func (secretPlugin) SecretKeys() []string { return []string{"vaultKey"} }

func TestSecretKeysOf(t *testing.T) {
	if got := rigging.SecretKeysOf(secretPlugin{}); len(got) != 1 || got[0] != "vaultKey" {
		t.Errorf("SecretKeysOf(SecretConfig) = %v", got)
	}
	if got := rigging.SecretKeysOf(struct{}{}); got != nil {
		t.Errorf("SecretKeysOf(not a SecretConfig) = %v, want nil", got)
	}
}
