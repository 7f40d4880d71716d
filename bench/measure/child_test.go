package measure

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("MEASURE_TEST_CHILD") == "1" {
		err := ServeChild(os.Stdin, os.Stdout, map[string]func(int) (Sample, error){
			"ok":   func(n int) (Sample, error) { return Calls(n, func() error { return nil }) },
			"fail": func(int) (Sample, error) { return Sample{}, errors.New("asked to fail") },
		})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChildProcess drives a real child process over the line protocol.
func TestChildProcess(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "MEASURE_TEST_CHILD=1")
	c, err := StartChild("kid", cmd)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Run("ok", 7)
	if err != nil || s.N != 7 || len(s.Lat) != 7 {
		t.Errorf("ok: %+v %v", s, err)
	}
	if _, err := c.Run("fail", 1); err == nil || err.Error() != "kid: fail: asked to fail" {
		t.Errorf("fail: %v", err)
	}
	res, err := Interleave([]Case{c.Case("a", "ok"), c.Case("b", "ok")}, 2, 3)
	if err != nil || res[0].Ops != 6 || res[1].Name != "b" {
		t.Errorf("interleave: %+v %v", res, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := c.Run("ok", 1); err == nil || !strings.HasPrefix(err.Error(), "kid: ok: ") {
		t.Errorf("after close: %v", err)
	}
}
