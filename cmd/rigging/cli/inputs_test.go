package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingPluginDir: a --plugin-dir that does not exist is a warning,
// and an error with --plugin-strict (or its environment variable).
func TestMissingPluginDir(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	t.Setenv(envStrict, "")
	missing := filepath.Join(t.TempDir(), "does", "not", "exist")
	for _, tt := range []struct {
		name   string
		args   []string
		env    string
		code   int
		stderr string
	}{
		{"warning by default", nil, "", ExitOK, "--plugin-dir does not exist; no external plugins are loaded"},
		{"error with --plugin-strict", []string{"--plugin-strict"}, "", ExitFailure, "rigging: --plugin-dir " + missing + ": no such directory"},
		{"error with " + envStrict, nil, "true", ExitFailure, "rigging: --plugin-dir " + missing + ": no such directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envStrict, tt.env)
			out, errs, code := run(t, "", append([]string{"plugins", "--plugin-dir", missing}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) || !strings.Contains(errs, missing) {
				t.Errorf("exit %d, stderr %q; want %d and %q naming the directory", code, errs, tt.code, tt.stderr)
			}
			if tt.code == ExitOK && !strings.Contains(out, "velero.io/pod") {
				t.Errorf("the built-ins are not listed:\n%s", out)
			}
		})
	}
}

// TestPluginConfigUnknownName: an entry no plugin has is warned about,
// naming the entry and the closest known name; known names are not.
func TestPluginConfigUnknownName(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := "velero.io/change-storage-clas:\n  gp2: gp3\nchange-image-name:\n  case1: a,b\nexample.com/unrelated-thing: {}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "", "plugins", "--plugin-config", cfg)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two warnings (the typo and the unrelated name), got:\n%s", errs)
	}
	for i, want := range []string{
		`level=WARN msg="--plugin-config: no plugin has this name; its configuration is not used" plugin=example.com/unrelated-thing file=` + cfg,
		`level=WARN msg="--plugin-config: no plugin has this name; its configuration is not used" plugin=velero.io/change-storage-clas file=` + cfg + ` closest=velero.io/change-storage-class`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("warning %d: %q, want %q", i, lines[i], want)
		}
	}
}

// TestBackupAndRestoreInputs: what the backup and restore commands do with
// a backup that is not there, or a file that is.
func TestBackupAndRestoreInputs(t *testing.T) {
	t.Setenv("RIGGING_HOME", t.TempDir())
	tmp := t.TempDir()

	t.Run("restore of a missing backup creates nothing", func(t *testing.T) {
		to := filepath.Join(tmp, "restored")
		_, errs, code := run(t, "", "restore", "create", "r", "--from-backup", "missing", "--to", to)
		if code != ExitFailure || errs != "rigging: restore r: backup not found: missing\n" {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
		if _, err := os.Stat(to); !os.IsNotExist(err) {
			t.Errorf("--to %s was created: %v", to, err)
		}
	})
	for _, args := range [][]string{{"backup", "logs", "missing"}, {"restore", "logs", "missing"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := "rigging: " + args[0] + " not found: missing\n"
			if _, errs, code := run(t, "", args...); code != ExitFailure || errs != want {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, ExitFailure, want)
			}
		})
	}

	runOK(t, "", "backup", "create", "b1", "--from", demo+"/pod-two-pvcs.yaml", "--no-progress")
	file := filepath.Join(tmp, "b1.tar.gz")
	const mine = "a file of the user's"
	if err := os.WriteFile(file, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("download refuses to overwrite", func(t *testing.T) {
		_, errs, code := run(t, "", "backup", "download", "b1", "-o", file)
		if code != ExitFailure || !strings.Contains(errs, file+" already exists: remove it or use --force") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
		if data, _ := os.ReadFile(file); string(data) != mine {
			t.Errorf("the file was overwritten")
		}
	})
	t.Run("download --force overwrites", func(t *testing.T) {
		runOK(t, "", "backup", "download", "b1", "-o", file, "--force")
		if data, _ := os.ReadFile(file); len(data) < 100 || string(data[:2]) != "\x1f\x8b" {
			t.Errorf("the file is not the tarball (%d bytes)", len(data))
		}
	})
	t.Run("default file name", func(t *testing.T) {
		t.Chdir(t.TempDir())
		runOK(t, "", "backup", "download", "b1")
		if _, errs, code := run(t, "", "backup", "download", "b1"); code != ExitFailure || !strings.Contains(errs, "b1-data.tar.gz already exists") {
			t.Errorf("second download: exit %d, stderr %q", code, errs)
		}
	})
}
