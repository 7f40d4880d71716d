package archive_test

import (
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/rigging-dev/rigging/archive"
)

func TestLogCountsResults(t *testing.T) {
	l, err := archive.NewLog(t.TempDir(), slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := l.Logger().With("backup", "velero/b1")
	log.Debug("not written")
	log.Info("backing up item", "namespace", "app", "name", "web")
	log.Warn("additional item was not found", "namespace", "app", "plugin", "velero.io/pod", "item", "pvc/app/data")
	log.With("namespace", "").Error("error backing up item", "resource", "persistentvolumes", "name", "pv1", "error", "boom")
	log.Error("could not list actions")

	res := l.Results()
	if got := res.Warnings.Namespaces["app"]; len(got) != 1 || got[0] != "plugin: velero.io/pod item: pvc/app/data message: additional item was not found" {
		t.Errorf("warnings %+v", res.Warnings)
	}
	if len(res.Errors.Cluster) != 1 || !strings.Contains(res.Errors.Cluster[0], "name: pv1 error: boom") || len(res.Errors.Velero) != 1 {
		t.Errorf("errors %+v", res.Errors)
	}
	if res.Errors.Count() != 2 || res.Warnings.Count() != 1 {
		t.Errorf("counts %d %d", res.Errors.Count(), res.Warnings.Count())
	}
	r, err := l.Reader()
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(r)
	if strings.Contains(string(text), "not written") || !strings.Contains(string(text), `msg="backing up item" backup=velero/b1 namespace=app name=web`) {
		t.Errorf("log text:\n%s", text)
	}
}

// TestLogReaderHasEveryRecord: records still in the log's buffer are in
// what Reader returns, whatever the log's size.
func TestLogReaderHasEveryRecord(t *testing.T) {
	for _, n := range []int{0, 1, 5000} {
		l, err := archive.NewLog(t.TempDir(), slog.LevelInfo)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			l.Logger().Info("backing up item", "i", i)
		}
		r, err := l.Reader()
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(r)
		if got := strings.Count(string(text), "\n"); got != n {
			t.Errorf("%d records logged, %d lines read", n, got)
		}
		if n > 0 && !strings.Contains(string(text), "i="+strconv.Itoa(n-1)+"\n") {
			t.Errorf("%d records: the last one is missing", n)
		}
		l.Close()
	}
}
