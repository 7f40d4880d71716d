package cli

import (
	"io/fs"
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
