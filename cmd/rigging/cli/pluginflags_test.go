package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigging-dev/rigging/external"
)

// TestPluginFlagsToOptions: every --plugin-* flag reaches external.Options;
// an environment variable is the fallback of a flag not given, and a flag
// given wins over it.
func TestPluginFlagsToOptions(t *testing.T) {
	base := external.Options{AutoMTLS: true, StopGrace: 2 * time.Second}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(o *external.Options)
		wantErr string
	}{
		{name: "defaults: AutoMTLS on, whole environment, 2s grace", want: func(*external.Options) {}},
		{name: "flags", args: []string{"--plugin-strict", "--allow-writable-plugins", "--plugin-auto-mtls=false", "--plugin-env-allow=AWS_*,HOME", "--plugin-env-allow", "PATH", "--plugin-grace=750ms"},
			want: func(o *external.Options) {
				o.Strict, o.AllowWritable, o.AutoMTLS, o.EnvAllow, o.StopGrace = true, true, false, []string{"AWS_*", "HOME", "PATH"}, 750*time.Millisecond
			}},
		{name: "empty allow-list: nothing from the host", args: []string{"--plugin-env-allow="}, want: func(o *external.Options) { o.EnvAllow = []string{} }},
		{name: "environment fallbacks", env: map[string]string{envStrict: "1", envAllowWritable: "true", envAutoMTLS: "0", envEnvAllow: "A, B", envGrace: "5s"},
			want: func(o *external.Options) {
				o.Strict, o.AllowWritable, o.AutoMTLS, o.EnvAllow, o.StopGrace = true, true, false, []string{"A", "B"}, 5*time.Second
			}},
		{name: "flags win over the environment", args: []string{"--plugin-strict=false", "--plugin-auto-mtls", "--plugin-grace=1s", "--plugin-env-allow=C"},
			env:  map[string]string{envStrict: "1", envAutoMTLS: "0", envGrace: "5s", envEnvAllow: "A"},
			want: func(o *external.Options) { o.EnvAllow, o.StopGrace = []string{"C"}, time.Second }},
		{name: "bad environment boolean", env: map[string]string{envStrict: "yes please"}, wantErr: "RIGGING_PLUGIN_STRICT"},
		{name: "bad environment duration", env: map[string]string{envGrace: "soon"}, wantErr: "RIGGING_PLUGIN_GRACE"},
		{name: "grace not positive", args: []string{"--plugin-grace=0s"}, wantErr: "want a positive duration"},
		{name: "memory limit", args: []string{"--plugin-memory-limit=256Mi"}, want: func(o *external.Options) { o.MemoryLimit = 256 << 20 }},
		{name: "memory limit in bytes", args: []string{"--plugin-memory-limit=1000000"}, want: func(o *external.Options) { o.MemoryLimit = 1000000 }},
		{name: "memory limit from the environment", env: map[string]string{envMemoryLimit: "1Gi"}, want: func(o *external.Options) { o.MemoryLimit = 1 << 30 }},
		{name: "memory limit flag wins", args: []string{"--plugin-memory-limit=0"}, env: map[string]string{envMemoryLimit: "1Gi"}, want: func(*external.Options) {}},
		{name: "bad memory limit", args: []string{"--plugin-memory-limit=lots"}, wantErr: "--plugin-memory-limit \"lots\": want a size such as 256Mi"},
		{name: "negative memory limit", args: []string{"--plugin-memory-limit=-1Gi"}, wantErr: "non-negative"},
		{name: "bad memory limit in the environment", env: map[string]string{envMemoryLimit: "1.5"}, wantErr: "RIGGING_PLUGIN_MEMORY_LIMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range []string{envStrict, envAllowWritable, envAutoMTLS, envEnvAllow, envGrace, envChecksums, envMemoryLimit} {
				t.Setenv(e, tt.env[e])
			}
			g := &globalFlags{}
			root := newRootCommand(g)
			if err := root.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := externalOptions(g)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, new(*usageError)) {
					t.Fatalf("error = %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			tt.want(&want)
			if got.Strict != want.Strict || got.AllowWritable != want.AllowWritable || got.AutoMTLS != want.AutoMTLS ||
				got.StopGrace != want.StopGrace || !slices.Equal(got.EnvAllow, want.EnvAllow) || (got.EnvAllow == nil) != (want.EnvAllow == nil) ||
				got.MemoryLimit != want.MemoryLimit {
				t.Errorf("options strict=%v writable=%v mtls=%v grace=%v env=%#v memory=%d\nwant    strict=%v writable=%v mtls=%v grace=%v env=%#v memory=%d",
					got.Strict, got.AllowWritable, got.AutoMTLS, got.StopGrace, got.EnvAllow, got.MemoryLimit,
					want.Strict, want.AllowWritable, want.AutoMTLS, want.StopGrace, want.EnvAllow, want.MemoryLimit)
			}
		})
	}
}

// TestPluginFlagsBehaviour runs `rigging plugins` on a plugin directory
// holding a binary that is not a plugin: skipped by default, fatal with
// --plugin-strict; refused when world-writable unless
// --allow-writable-plugins; unpinned with --plugin-checksums.
func TestPluginFlagsBehaviour(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir()) // the discovery cache
	for _, e := range []string{envStrict, envAllowWritable, envAutoMTLS, envEnvAllow, envGrace, envChecksums} {
		t.Setenv(e, "")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "not-a-plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho not a plugin >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sums := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(sums, []byte(strings.Repeat("0", 64)+"  other-binary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mode   os.FileMode
		args   []string
		env    map[string]string
		code   int
		stderr string // in stderr (the log or the error)
	}{
		{"skipped by default", 0o755, nil, nil, ExitOK, "not a plugin"},
		{"strict", 0o755, []string{"--plugin-strict"}, nil, ExitFailure, "broken plugin binary"},
		{"strict from the environment", 0o755, nil, map[string]string{envStrict: "1"}, ExitFailure, "broken plugin binary"},
		{"world-writable refused", 0o757, []string{"--plugin-strict"}, nil, ExitFailure, "writable by any user"},
		{"world-writable allowed", 0o757, []string{"--plugin-strict", "--allow-writable-plugins"}, nil, ExitFailure, "exit status 3"},
		{"unpinned refused", 0o755, []string{"--plugin-strict", "--plugin-checksums", sums}, nil, ExitFailure, "no SHA-256 checksum pinned"},
		{"checksum file missing", 0o755, []string{"--plugin-checksums", filepath.Join(dir, "missing")}, nil, ExitFailure, "--plugin-checksums"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if err := os.Chmod(bin, tt.mode); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			args := append([]string{"plugins", "--plugin-dir", dir}, tt.args...)
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("%q: exit %d, stderr %q; want %d and %q", args, code, errOut.String(), tt.code, tt.stderr)
			}
		})
	}
}

// testPluginBin builds external's test plugin once per test binary.
var testPluginBin = sync.OnceValues(func() (string, error) {
	return buildTestBin("github.com/rigging-dev/rigging/external/internal/testplugin/cmd/testplugin", "testplugin")
})

// TestPluginFlagsWithAPlugin drives external's test plugin through the
// command line: AutoMTLS on by default (the plugin is handed
// PLUGIN_CLIENT_CERT) with the plaintext fallback, the environment
// allow-list, and the plugin's error named once ("plugin X: Execute: …").
func TestPluginFlagsWithAPlugin(t *testing.T) {
	bin, err := testPluginBin()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{envStrict, envAllowWritable, envAutoMTLS, envEnvAllow, envGrace, envChecksums} {
		t.Setenv(e, "")
	}
	t.Setenv("RIGGING_TEST_SECRET", "s3cr3t")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.Symlink(bin, filepath.Join(dir, "testplugin")); err != nil {
		t.Fatal(err)
	}
	item := filepath.Join(t.TempDir(), "environ.yaml")
	if err := os.WriteFile(item, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: environ, namespace: ns1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const fallback = "does not negotiate mutual TLS"
	listing := []string{"plugins", "-o", "json", "--plugin-strict", "--plugin-dir", dir}
	execEnviron := []string{"exec", "BackupItemAction", "test.rigging.dev/bia", "--item", item, "--plugin-dir", dir}
	tests := []struct {
		name         string
		args         []string
		noMTLS       bool // the plugin behaves as a server without AutoMTLS
		code         int
		want, absent []string // in stdout+stderr
	}{
		{"mTLS by default", listing, false, ExitOK, []string{"test.rigging.dev/bia"}, []string{fallback}},
		{"plugin without AutoMTLS: plaintext fallback", listing, true, ExitOK, []string{"test.rigging.dev/bia", fallback}, nil},
		{"--plugin-auto-mtls=false never asks", append(listing, "--plugin-auto-mtls=false"), true, ExitOK, []string{"test.rigging.dev/bia"}, []string{fallback}},
		{"whole environment by default", execEnviron, false, ExitFailure, []string{"environ: ", "RIGGING_TEST_SECRET"}, nil},
		{"--plugin-env-allow", append(execEnviron, "--plugin-env-allow=HOME,PATH"), false, ExitFailure, []string{"plugin test.rigging.dev/bia: Execute: environ: ", "HOME", "PATH", "VELERO_PLUGIN", "PLUGIN_CLIENT_CERT"}, []string{"RIGGING_TEST_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RIGGING_HOME", t.TempDir()) // no discovery cache between cases
			if tt.noMTLS {
				t.Setenv("RIGGING_TESTPLUGIN_NO_MTLS", "1")
			}
			out, errs, code := run(t, "", tt.args...)
			all := out + errs
			t.Logf("rigging %s: exit %d\n%s", strings.Join(tt.args, " "), code, all)
			if code != tt.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tt.code, all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(all, a) {
					t.Errorf("output has %q:\n%s", a, all)
				}
			}
		})
	}
}
