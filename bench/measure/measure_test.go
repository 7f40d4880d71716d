package measure

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestAggregate(t *testing.T) {
	s := []Sample{
		{N: 2, Lat: []int64{10, 30}, WallNs: 40, Mallocs: 4, CPUNs: 20},
		{N: 2, Lat: []int64{20, 1000}, WallNs: 1020, Mallocs: 2, Bytes: 1e6},
	}
	r := Aggregate("x", s)
	if r.Ops != 4 || r.NsPerOp != 265 || r.AllocsPerOp != 1.5 || r.CPUNsPerOp != 5 {
		t.Errorf("got %+v", r)
	}
	if r.P50Ns != 20 || r.P99Ns != 1000 {
		t.Errorf("percentiles %v %v, want 20 1000", r.P50Ns, r.P99Ns)
	}
	if want := 1.0 / (1060e-9); r.MBPerS < want*0.999 || r.MBPerS > want*1.001 {
		t.Errorf("MB/s %v, want %v", r.MBPerS, want)
	}
	if z := Aggregate("z", nil); z.NsPerOp != 0 || z.Ops != 0 {
		t.Errorf("empty: %+v", z)
	}
}

func TestRunners(t *testing.T) {
	calls := 0
	s, err := Calls(5, func() error { calls++; return nil })
	if err != nil || s.N != 5 || len(s.Lat) != 5 || calls != 5 {
		t.Fatalf("Calls: %+v %v (calls %d)", s, err, calls)
	}
	if _, err := Calls(3, func() error { return errors.New("boom") }); err == nil || !strings.Contains(err.Error(), "call 0: boom") {
		t.Errorf("Calls error = %v", err)
	}
	var n int64
	s, err = Parallel(4, 100, func() error { atomicAdd(&n); return nil })
	if err != nil || s.N != 100 || n != 100 {
		t.Errorf("Parallel: %+v %v, calls %d", s, err, n)
	}
	s, err = Once(func() (int64, error) { return 42, nil })
	if err != nil || s.Bytes != 42 || len(s.Lat) != 1 {
		t.Errorf("Once: %+v %v", s, err)
	}
}

func TestInterleaveOrder(t *testing.T) {
	var order []string
	mk := func(name string) Case {
		return Case{Name: name, Run: func(n int) (Sample, error) {
			order = append(order, name)
			return Sample{N: n, WallNs: int64(n)}, nil
		}}
	}
	res, err := Interleave([]Case{mk("a"), mk("b")}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "abab" {
		t.Errorf("order %s, want abab", got)
	}
	if res[0].Ops != 6 || res[1].Name != "b" {
		t.Errorf("results %+v", res)
	}
	_, err = Interleave([]Case{{Name: "bad", Run: func(int) (Sample, error) { return Sample{}, io.EOF }}}, 1, 1)
	if err == nil || !strings.HasPrefix(err.Error(), "bad: ") {
		t.Errorf("error = %v", err)
	}
}

func TestServeChild(t *testing.T) {
	in := strings.NewReader(`{"op":"x","n":3}` + "\n" + `{"op":"nope","n":1}` + "\n")
	var out bytes.Buffer
	err := ServeChild(in, &out, map[string]func(int) (Sample, error){
		"x": func(n int) (Sample, error) { return Sample{N: n}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sample":{"n":3,"wall_ns":0,"mallocs":0,"alloc_bytes":0,"cpu_ns":0,"child_cpu_ns":0}}` + "\n" +
		`{"sample":{"n":0,"wall_ns":0,"mallocs":0,"alloc_bytes":0,"cpu_ns":0,"child_cpu_ns":0},"err":"unknown operation nope"}` + "\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func atomicAdd(p *int64) { mu.Lock(); *p++; mu.Unlock() }

var mu sync.Mutex
