package cluster

import "testing"

func TestDefaultWorkers(t *testing.T) {
	for _, tc := range []struct {
		qps  float32
		want int
	}{{-1, 64}, {0, 4}, {20, 4}, {100, 4}, {101, 5}, {500, 20}, {1000, 40}, {5000, 64}} {
		if got := DefaultWorkers(tc.qps); got != tc.want {
			t.Errorf("DefaultWorkers(%v) = %d, want %d", tc.qps, got, tc.want)
		}
	}
}
