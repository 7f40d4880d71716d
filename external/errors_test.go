package external

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/registry"
)

// TestErrorsNamePluginOnce: a catalog client's errors do not name the
// plugin or the method (the Manager's CallError does), so through a Manager
// they read "plugin NAME: Method: <plugin's message>[; transport context]"
// with the prefix once; a plugin's error is its RemoteError unwrapped; what
// a call says beyond its method (a key) leads.
func TestErrorsNamePluginOnce(t *testing.T) {
	c := discover(t, Options{Dir: pluginDir(t, nil)})
	m := manager.New(manager.Options{Registry: registry.New(), External: c, Logger: testLogger(t)})
	defer m.Close()
	ctx := context.Background()
	bia, err := m.BackupItemAction(ctx, testplugin.BIA)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "plugin " + testplugin.BIA + ": Execute: "
	tests := []struct {
		item      string
		exact     string // the whole message, when known
		contains  string
		bareIsRem bool // the bare client returns the *RemoteError itself
	}{
		{item: "error", exact: prefix + "test plugin asked to fail", bareIsRem: true},
		{item: "panic", exact: prefix + "plugin panicked: test plugin asked to panic", bareIsRem: true},
		// The transport's own words for the lost connection vary ("EOF",
		// "connection reset by peer") with the moment the process dies.
		{item: "crash", contains: "; the plugin process died (exit status 2); last plugin output: panic: test plugin crashed outside a handler"},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			_, _, err := bia.Execute(ctx, pod(tt.item, 0), backup())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if tt.exact != "" && msg != tt.exact {
				t.Errorf("error = %q\nwant    %q", msg, tt.exact)
			}
			if !strings.HasPrefix(msg, prefix) || strings.Count(msg, "plugin "+testplugin.BIA) != 1 || strings.Count(msg, "Execute") != 1 {
				t.Errorf("error %q: want the prefix %q exactly once", msg, prefix)
			}
			if tt.contains != "" && !strings.Contains(msg, tt.contains) {
				t.Errorf("error %q lacks %q", msg, tt.contains)
			}
			if !tt.bareIsRem {
				return
			}
			a := open[rigging.BackupItemAction](t, c, rigging.KindBackupItemAction, testplugin.BIA)
			_, _, err = a.Execute(ctx, pod(tt.item, 0), backup())
			var re *RemoteError
			if !errors.As(err, &re) || err != error(re) || err.Error() != strings.TrimPrefix(tt.exact, prefix) {
				t.Errorf("bare client error = %#v (%v), want the RemoteError with the plugin's message", err, err)
			}
		})
	}

	// An ObjectStore call names its key, not its method.
	st, err := m.ObjectStore(ctx, testplugin.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Init(ctx, map[string]string{"root": t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetObject(ctx, "b", "no/such/key"); err == nil || !strings.HasPrefix(err.Error(), "plugin "+testplugin.Store+": GetObject: no/such/key: ") ||
		strings.Count(err.Error(), testplugin.Store) != 1 {
		t.Errorf("GetObject error = %v", err)
	}
}

// TestRemoteErrorAtDeadline: a call that failed at its context's deadline
// matches context.DeadlineExceeded whatever code the plugin answered with
// (a plugin returning its own context's error sends code Unknown, and its
// answer may beat the host's timer); other failures keep the plugin's
// error as it is.
func TestRemoteErrorAtDeadline(t *testing.T) {
	passed, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	soon, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	later, cancel3 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel3()
	tests := []struct {
		name         string
		ctx          context.Context
		err          error
		wantDeadline bool
	}{
		{"unknown, deadline passed", passed, status.Error(codes.Unknown, "put block/k: context deadline exceeded"), true},
		{"unknown, deadline in a moment", soon, status.Error(codes.Unknown, "context deadline exceeded"), true},
		{"deadline code", passed, status.Error(codes.DeadlineExceeded, "late"), true},
		{"unknown, deadline far", later, status.Error(codes.Unknown, "context deadline exceeded"), false},
		{"other error at the deadline", passed, status.Error(codes.Unknown, "disk full"), false},
		{"no deadline", context.Background(), status.Error(codes.Unknown, "context deadline exceeded"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := remoteError(tt.ctx, tt.err)
			if errors.Is(got, context.DeadlineExceeded) != tt.wantDeadline {
				t.Errorf("remoteError(%v) = %v: matches DeadlineExceeded %v, want %v", tt.err, got, !tt.wantDeadline, tt.wantDeadline)
			}
			if got.Error() != status.Convert(tt.err).Message() {
				t.Errorf("remoteError says %q, want the plugin's message %q", got.Error(), status.Convert(tt.err).Message())
			}
			var re *RemoteError
			if !errors.As(got, &re) {
				t.Errorf("remoteError(%v) = %#v, not a RemoteError", tt.err, got)
			}
		})
	}
}
