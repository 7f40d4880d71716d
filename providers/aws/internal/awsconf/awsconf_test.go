package awsconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCredentialsFileWinsOverIRSA: with IRSA variables in the environment
// (as on EKS), a credentialsFile's keys are used, as velero-plugin-for-aws
// arranges, and the environment is left alone.
func TestCredentialsFileWinsOverIRSA(t *testing.T) {
	file := writeFile(t, "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n\n[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other-secret\n")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", writeFile(t, "token"))
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/velero")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	for _, tc := range []struct{ profile, want string }{{"", "AKIDFILE"}, {"other", "AKIDOTHER"}} {
		cfg, err := Load(context.Background(), Options{Region: "us-east-1", CredentialsFile: file, Profile: tc.profile})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil || c.AccessKeyID != tc.want {
			t.Errorf("profile %q: credentials %q, %v; want %s from the file", tc.profile, c.AccessKeyID, err, tc.want)
		}
	}
	if os.Getenv("AWS_ROLE_ARN") == "" {
		t.Error("Load cleared AWS_ROLE_ARN from the process environment")
	}
}

func TestLoadErrors(t *testing.T) {
	file := writeFile(t, "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n")
	_, err := Load(context.Background(), Options{CredentialsFile: file, Profile: "missing"})
	if err == nil || !strings.Contains(err.Error(), `profile "missing"`) || strings.Contains(err.Error(), "file-secret") {
		t.Errorf("missing profile: %v", err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "nope"))
	_, err = Load(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "$AWS_SHARED_CREDENTIALS_FILE") {
		t.Errorf("missing $AWS_SHARED_CREDENTIALS_FILE: %v", err)
	}
}

func TestCheckKeysAndBool(t *testing.T) {
	if err := CheckKeys(map[string]string{"a": "1"}, "a", "b"); err != nil {
		t.Error(err)
	}
	err := CheckKeys(map[string]string{"z": "", "c": ""}, "b", "a")
	if !errors.Is(err, ErrInvalidConfig) || err.Error() != `invalid config: unknown key(s) "c", "z"; valid keys are a, b` {
		t.Errorf("CheckKeys = %v", err)
	}
	for v, want := range map[string]bool{"": false, "true": true, "False": false, "1": true} {
		if got, err := Bool(map[string]string{"k": v}, "k"); err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v", v, got, err)
		}
	}
	if _, err := Bool(map[string]string{"k": "yes"}, "k"); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "k:") {
		t.Errorf("Bool(yes) = %v", err)
	}
}
