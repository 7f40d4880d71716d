package external

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
)

// TestConflictingOptions: RequireMTLS without AutoMTLS is refused with
// ErrConflictingOptions by Discover and OpenBinary, before anything starts
// or any socket directory is made; the options that agree are accepted.
func TestConflictingOptions(t *testing.T) {
	dir := pluginDir(t, nil)
	bin := filepath.Join(dir, "testplugin")
	tests := []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{name: "RequireMTLS without AutoMTLS", opts: Options{RequireMTLS: true}, wantErr: ErrConflictingOptions},
		{name: "RequireMTLS with AutoMTLS", opts: Options{RequireMTLS: true, AutoMTLS: true}},
		{name: "AutoMTLS alone", opts: Options{AutoMTLS: true}},
		{name: "neither", opts: Options{}},
	}
	for _, tt := range tests {
		for _, how := range []string{"Discover", "OpenBinary"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				tmp := t.TempDir()
				t.Setenv("TMPDIR", tmp)
				opts := tt.opts
				opts.Logger = testLogger(t)
				var c *Catalog
				var err error
				if how == "Discover" {
					opts.Dir = dir
					c, err = Discover(context.Background(), opts)
				} else {
					c, err = OpenBinary(context.Background(), bin, opts)
				}
				if c != nil {
					defer c.Close()
				}
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil {
					return
				}
				if c != nil {
					t.Error("a catalog was returned with the error")
				}
				if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
			})
		}
	}
}

// TestAutoMTLSFallback: with AutoMTLS a plugin that negotiates it runs
// over mutual TLS; one that does not (its handshake carries no server
// certificate) is restarted without TLS and remembered, or refused with
// RequireMTLS.
func TestAutoMTLSFallback(t *testing.T) {
	tests := []struct {
		name         string
		noMTLS       bool // the plugin ignores the client certificate
		require      bool
		wantPlain    bool
		wantErr      error
		wantProblems int
	}{
		{name: "supported", noMTLS: false},
		{name: "supported, required", noMTLS: false, require: true},
		{name: "unsupported falls back", noMTLS: true, wantPlain: true},
		{name: "unsupported refused", noMTLS: true, require: true, wantErr: ErrNoMTLS, wantProblems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noMTLS {
				t.Setenv("RIGGING_TESTPLUGIN_NO_MTLS", "1")
			}
			c := discover(t, Options{Dir: pluginDir(t, nil), AutoMTLS: true, RequireMTLS: tt.require})
			if got := len(c.Problems()); got != tt.wantProblems {
				t.Fatalf("problems %v, want %d", c.Problems(), tt.wantProblems)
			}
			if tt.wantErr != nil {
				if err := c.Problems()[0].Err; !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "testplugin") {
					t.Errorf("problem = %v, want %v naming the binary", err, tt.wantErr)
				}
				return
			}
			a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
			if _, err := a.AppliesTo(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, plain := c.plainOnly.Load(filepath.Join(c.opts.Dir, "testplugin"))
			if plain != tt.wantPlain {
				t.Errorf("binary remembered as plaintext-only = %v, want %v", plain, tt.wantPlain)
			}
		})
	}
}

// TestEnvAllow: the plugin process gets the whole environment by default,
// and only the allowed variables (plus go-plugin's own) with EnvAllow.
func TestEnvAllow(t *testing.T) {
	t.Setenv("RIGGING_TEST_SECRET", "s3cr3t")
	t.Setenv("RIGGING_TEST_KEEP_A", "a")
	t.Setenv("RIGGING_TEST_KEEP_B", "b")
	tests := []struct {
		name       string
		allow      []string
		want, deny []string
	}{
		{"default: whole environment", nil, []string{"RIGGING_TEST_SECRET", "RIGGING_TEST_KEEP_A", "PATH"}, nil},
		{"exact names", []string{"RIGGING_TEST_KEEP_A"}, []string{"RIGGING_TEST_KEEP_A"}, []string{"RIGGING_TEST_SECRET", "RIGGING_TEST_KEEP_B", "PATH", "HOME"}},
		{"prefix", []string{"RIGGING_TEST_KEEP_*", "PATH"}, []string{"RIGGING_TEST_KEEP_A", "RIGGING_TEST_KEEP_B", "PATH"}, []string{"RIGGING_TEST_SECRET"}},
		{"empty list: go-plugin's only", []string{}, nil, []string{"RIGGING_TEST_SECRET", "PATH"}},
	}
	goPlugin := []string{"VELERO_PLUGIN", "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_MIN_PORT", "PLUGIN_MAX_PORT", "PLUGIN_UNIX_SOCKET_DIR"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := discover(t, Options{Dir: pluginDir(t, nil), EnvAllow: tt.allow, Strict: true})
			a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
			_, _, err := a.Execute(context.Background(), pod("environ", 0), backup())
			if err == nil || !strings.Contains(err.Error(), "environ: ") {
				t.Fatalf("error = %v", err)
			}
			_, list, _ := strings.Cut(err.Error(), "environ: ")
			names := map[string]bool{}
			for _, n := range strings.Split(list, ",") {
				names[n] = true
			}
			for _, n := range append(goPlugin, tt.want...) {
				if !names[n] {
					t.Errorf("plugin environment lacks %s: %s", n, list)
				}
			}
			for _, n := range tt.deny {
				if names[n] {
					t.Errorf("plugin environment has %s: %s", n, list)
				}
			}
		})
	}
}

// TestMaxPluginsPerBinary: a binary listing more plugins than the cap is
// a discovery Problem naming the binary and the count (fatal with Strict).
func TestMaxPluginsPerBinary(t *testing.T) {
	dir := pluginDir(t, nil)
	if c := discover(t, Options{Dir: dir}); len(c.Plugins()) != 8 || len(c.Problems()) != 0 {
		t.Fatalf("default cap: plugins %d problems %v", len(c.Plugins()), c.Problems())
	}
	c := discover(t, Options{Dir: dir, MaxPluginsPerBinary: 7})
	if len(c.Plugins()) != 0 || len(c.Problems()) != 1 {
		t.Fatalf("cap 7: plugins %v problems %v", c.Plugins(), c.Problems())
	}
	p := c.Problems()[0]
	if !errors.Is(p.Err, ErrTooManyPlugins) || !strings.Contains(p.Error(), "testplugin") || !strings.Contains(p.Error(), "8 plugins listed, at most 7") {
		t.Errorf("problem = %v", p)
	}
	if _, err := Discover(context.Background(), Options{Dir: dir, MaxPluginsPerBinary: 7, Strict: true, Logger: testLogger(t)}); !errors.Is(err, ErrTooManyPlugins) {
		t.Errorf("strict: %v", err)
	}
}

// TestStopGrace: Close kills a plugin that does not exit within StopGrace
// of the graceful shutdown request, and does not wait for one that exits.
func TestStopGrace(t *testing.T) {
	const grace = 400 * time.Millisecond
	for _, tt := range []struct {
		name   string
		linger bool
	}{{"exits when asked", false}, {"lingers: killed after the grace", true}} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.linger {
				t.Setenv("RIGGING_TESTPLUGIN_LINGER", "1")
			}
			opts := Options{Dir: pluginDir(t, nil), StopGrace: grace, Logger: testLogger(t)}
			if !tt.linger {
				opts.StopGrace = time.Minute
			}
			c, err := Discover(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
			if _, err := a.AppliesTo(context.Background()); err != nil {
				t.Fatal(err)
			}
			pid := c.procs[filepath.Join(c.opts.Dir, "testplugin")].run.cmd.Process.Pid
			start := time.Now()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("plugin %d still there after Close: %v", pid, err)
			}
			switch {
			case tt.linger && (took < grace || took > grace+10*time.Second):
				t.Errorf("Close took %s with a lingering plugin, want the grace %s", took, grace)
			case !tt.linger && took > 10*time.Second:
				t.Errorf("Close took %s with a plugin that exits, want no wait for the 1m grace", took)
			}
		})
	}
}
