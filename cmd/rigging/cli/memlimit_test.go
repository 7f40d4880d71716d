package cli

import (
	"io/fs"
	"math"
	"testing"
)

func TestDefaultMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   string
		files map[string]string
		want  int64
	}{
		{"cgroup v2 limit", "", map[string]string{
			"/proc/self/cgroup": "0::/user.slice/run-1.scope\n",
			"/sys/fs/cgroup/user.slice/run-1.scope/memory.max": "1073741824\n",
		}, 966367641},
		{"cgroup v2 without limit", "", map[string]string{
			"/proc/self/cgroup":         "0::/\n",
			"/sys/fs/cgroup/memory.max": "max\n",
		}, 0},
		{"cgroup v1 limit", "", map[string]string{
			"/proc/self/cgroup": "5:devices:/\n4:memory:/job/7\n0::/\n",
			"/sys/fs/cgroup/memory/job/7/memory.limit_in_bytes": "2147483648\n",
		}, 1932735283},
		{"cgroup v1 without limit", "", map[string]string{
			"/proc/self/cgroup": "4:cpuacct,memory:/job\n",
			"/sys/fs/cgroup/memory/job/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0},
		{"GOMEMLIMIT set", "500MiB", map[string]string{
			"/proc/self/cgroup":         "0::/\n",
			"/sys/fs/cgroup/memory.max": "1073741824\n",
		}, 0},
		{"no cgroup file", "", map[string]string{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.env
				}
				return ""
			}
			readFile := func(name string) ([]byte, error) {
				if s, ok := tc.files[name]; ok {
					return []byte(s), nil
				}
				return nil, fs.ErrNotExist
			}
			if got := defaultMemoryLimit(getenv, readFile); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestBackupGCTarget(t *testing.T) {
	const unlimited = math.MaxInt64
	for _, tc := range []struct {
		name      string
		env       map[string]string
		items     int
		current   int64
		wantLimit int64
		wantOK    bool
	}{
		{"100 000 items", nil, 100000, unlimited, 64<<20 + 100000*2048, true},
		{"one item", nil, 1, unlimited, 64<<20 + 2048, true},
		{"not counted yet: the limit in force", nil, -1, unlimited, unlimited, true},
		{"not counted yet under a cgroup", nil, -1, 100 << 20, 100 << 20, true},
		{"the cgroup's lower limit stays", nil, 100000, 100 << 20, 100 << 20, true},
		{"GOGC set", map[string]string{"GOGC": "50"}, 100000, unlimited, 0, false},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, 100000, unlimited, 0, false},
		{"GOGC off", map[string]string{"GOGC": "off"}, 100000, unlimited, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pct, limit, ok := backupGCTarget(func(k string) string { return tc.env[k] }, tc.items, tc.current)
			if ok != tc.wantOK || limit != tc.wantLimit || (ok && pct != backupGCPercent) {
				t.Errorf("backupGCTarget = %d, %d, %v; want %d, %d, %v", pct, limit, ok, backupGCPercent, tc.wantLimit, tc.wantOK)
			}
		})
	}
}
