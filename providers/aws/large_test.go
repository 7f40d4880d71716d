package aws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigging-dev/rigging"
)

// The 1 GiB test runs whenever an S3 server is configured, except under
// -short; RIGGING_S3_LARGE_SIZE (bytes) changes the size.
const (
	largeChildEnv   = "RIGGING_S3_LARGE_CHILD" // set in the child: the bucket to use
	largeResultMark = "LARGE-RESULT "
	largeModeEnv    = "RIGGING_S3_LARGE_MODE"   // "inproc" or "subprocess"
	largeBinEnv     = "RIGGING_S3_LARGE_PLUGIN" // the plugin binary of the subprocess mode
	// maxPeakRSS bounds the peak RSS of the host and of the plugin process:
	// well under the object's size, so buffering the object fails the
	// test. Measured: 115-132 MiB in-process, 190-194 MiB in the plugin
	// process (part buffers are UploadPartSize*UploadConcurrency = 64 MiB;
	// the rest is gRPC buffers, the Go runtime and GC headroom).
	// Under -race (measured: 375 MiB in-process) the bound is doubled,
	// still below the object's size.
	maxPeakRSS = 384 << 20
)

// largeResult is what the child reports.
type largeResult struct {
	Size          int64   `json:"size"`
	PutSeconds    float64 `json:"putSeconds"`
	GetSeconds    float64 `json:"getSeconds"`
	PeakRSSAfter  int64   `json:"peakRSSAfterPut"` // VmHWM after the put, bytes
	PeakRSS       int64   `json:"peakRSS"`         // VmHWM at the end, bytes
	BaselineRSS   int64   `json:"baselineRSS"`     // VmHWM before the put, bytes
	PutMBPerSec   float64 `json:"putMBps"`
	GetMBPerSec   float64 `json:"getMBps"`
	SHA256Matches bool    `json:"sha256Matches"`
	PluginPeakRSS int64   `json:"pluginPeakRSS"` // VmHWM of the plugin process (subprocess mode), bytes
}

// TestS3LargeObject puts and gets a 1 GiB object in a child process (so its
// peak RSS, VmHWM, measures only this) and checks memory stays bounded.
func TestS3LargeObject(t *testing.T) {
	e := needS3(t)
	if testing.Short() {
		t.Skip("SKIPPED under -short: the 1 GiB put/get takes tens of seconds")
	}
	size := int64(1 << 30)
	if s := os.Getenv("RIGGING_S3_LARGE_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("RIGGING_S3_LARGE_SIZE=%q: want a positive number of bytes", s)
		}
		size = n
	}
	limit := int64(maxPeakRSS)
	if raceEnabled {
		limit *= 2
	}
	bin := pluginBinary(t)
	for _, mode := range []string{"inproc", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			r := runLargeChild(t, e.bucket(t), mode, bin, size)
			t.Logf("%s, %d MiB: put %.1fs (%.1f MB/s), get %.1fs (%.1f MB/s); host peak RSS %.1f MiB (%.1f before the put, %.1f after it); plugin process peak RSS %.1f MiB",
				mode, r.Size>>20, r.PutSeconds, r.PutMBPerSec, r.GetSeconds, r.GetMBPerSec,
				mib(r.PeakRSS), mib(r.BaselineRSS), mib(r.PeakRSSAfter), mib(r.PluginPeakRSS))
			if !r.SHA256Matches {
				t.Error("the object read back differs from the one written")
			}
			if r.PeakRSS > limit {
				t.Errorf("host peak RSS %.1f MiB for a %d MiB object; want under %d MiB: PutObject or GetObject is buffering the object",
					mib(r.PeakRSS), r.Size>>20, limit>>20)
			}
			if r.PluginPeakRSS > limit {
				t.Errorf("plugin process peak RSS %.1f MiB; want under %d MiB", mib(r.PluginPeakRSS), limit>>20)
			}
		})
	}
}

// runLargeChild runs TestS3LargeObjectChild in a new process and returns
// what it reports.
func runLargeChild(t *testing.T, bucket, mode, bin string, size int64) largeResult {
	cmd := exec.Command(os.Args[0], "-test.run=^TestS3LargeObjectChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), largeChildEnv+"="+bucket, largeModeEnv+"="+mode, largeBinEnv+"="+bin,
		"RIGGING_S3_LARGE_SIZE="+strconv.FormatInt(size, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), largeResultMark); ok {
			var r largeResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("child result %q: %v", rest, err)
			}
			return r
		}
	}
	t.Fatalf("child printed no result:\n%s", out)
	return largeResult{}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestS3LargeObjectChild is the child of TestS3LargeObject; it does nothing
// unless that test started it.
func TestS3LargeObjectChild(t *testing.T) {
	bucket := os.Getenv(largeChildEnv)
	if bucket == "" {
		t.Skip("child of TestS3LargeObject only")
	}
	e := needS3(t)
	size, err := strconv.ParseInt(os.Getenv("RIGGING_S3_LARGE_SIZE"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var o rigging.ObjectStore
	var pluginRSS func() int64
	switch mode := os.Getenv(largeModeEnv); mode {
	case "inproc":
		o = e.store(t, bucket, nil)
		pluginRSS = func() int64 { return 0 }
	case "subprocess":
		o = e.pluginStore(t, os.Getenv(largeBinEnv), bucket)
		pluginRSS = func() int64 { return childrenPeakRSS(t) }
	default:
		t.Fatalf("%s=%q", largeModeEnv, mode)
	}
	const key = "velero/backups/large/large.tar.gz"
	r := largeResult{Size: size, BaselineRSS: peakRSS(t)}

	// The body comes through an os.Pipe, as stdin does for `rigging store
	// put KEY -`: it cannot seek, so the upload buffers it part by part.
	body, done := patternPipe(t, size)
	start := time.Now()
	err = o.PutObject(ctx, bucket, key, body)
	putSum, werr := done()
	if err == nil {
		err = werr
	}
	if err != nil {
		t.Fatal(err)
	}
	r.PutSeconds = time.Since(start).Seconds()
	r.PeakRSSAfter = peakRSS(t)

	start = time.Now()
	rc, err := o.GetObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	getHash := sha256.New()
	n, err := io.Copy(getHash, rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.GetSeconds = time.Since(start).Seconds()
	if n != size {
		t.Fatalf("read back %d bytes, want %d", n, size)
	}
	r.PeakRSS = peakRSS(t)
	r.PluginPeakRSS = pluginRSS()
	r.SHA256Matches = bytes.Equal(putSum, getHash.Sum(nil))
	r.PutMBPerSec = float64(size) / 1e6 / r.PutSeconds
	r.GetMBPerSec = float64(size) / 1e6 / r.GetSeconds
	if err := o.DeleteObject(ctx, bucket, key); err != nil {
		t.Error(err)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("%s%s\n", largeResultMark, b)
}

// childrenPeakRSS returns the largest VmHWM among this process's children
// (the plugin process of the subprocess mode).
func childrenPeakRSS(t testing.TB) int64 {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var peak int64
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(b)) {
			if n := statusHWM(t, "/proc/"+pid+"/status"); n > peak {
				peak = n
			}
		}
	}
	return peak
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t testing.TB) int64 {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc/self/status (%v): peak RSS is measured on Linux only", err)
	}
	return statusHWM(t, "/proc/self/status")
}

// statusHWM reads VmHWM from a /proc/<pid>/status file, in bytes; 0 when the
// file is gone.
func statusHWM(t testing.TB, path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse VmHWM %q: %v", line, err)
			}
			return kb << 10
		}
	}
	return 0
}

// patternReader yields size bytes without holding them: a random 1 MiB
// block repeated, each copy stamped with its index so misplaced parts change
// the hash.
type patternReader struct {
	block     []byte
	off, size int64
}

const patternBlock = 1 << 20

func newPatternReader(size int64) *patternReader {
	b := make([]byte, patternBlock)
	rng := rand.NewChaCha8([32]byte{'r', 'i', 'g'})
	_, _ = rng.Read(b)
	return &patternReader{block: b, size: size}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if rem := r.size - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	for n < len(p) {
		i := r.off / patternBlock
		in := r.off % patternBlock
		binary.BigEndian.PutUint64(r.block[:8], uint64(i))
		c := copy(p[n:], r.block[in:])
		n += c
		r.off += int64(c)
	}
	return n, nil
}
