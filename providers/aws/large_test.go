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
	"strconv"
	"strings"
	"testing"
	"time"
)

// The 1 GiB test runs whenever an S3 server is configured, except under
// -short; RIGGING_S3_LARGE_SIZE (bytes) changes the size.
const (
	largeChildEnv   = "RIGGING_S3_LARGE_CHILD" // set in the child: the bucket to use
	largeResultMark = "LARGE-RESULT "
	// maxPeakRSS is the bound the put/get process must stay under: a
	// quarter of the object. Buffers are UploadPartSize*UploadConcurrency
	// (64 MiB); the rest is the Go runtime and the test binary.
	maxPeakRSS = 256 << 20
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
	bucket := e.bucket(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestS3LargeObjectChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), largeChildEnv+"="+bucket, "RIGGING_S3_LARGE_SIZE="+strconv.FormatInt(size, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	var r largeResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), largeResultMark); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("child result %q: %v", rest, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("child printed no result:\n%s", out)
	}
	t.Logf("%d MiB: put %.1fs (%.1f MB/s), get %.1fs (%.1f MB/s); peak RSS %.1f MiB (%.1f MiB before the put, %.1f MiB after it)",
		r.Size>>20, r.PutSeconds, r.PutMBPerSec, r.GetSeconds, r.GetMBPerSec,
		mib(r.PeakRSS), mib(r.BaselineRSS), mib(r.PeakRSSAfter))
	if !r.SHA256Matches {
		t.Error("the object read back differs from the one written")
	}
	if r.PeakRSS > maxPeakRSS {
		t.Errorf("peak RSS %.1f MiB for a %d MiB object; want under %d MiB: PutObject or GetObject is buffering the object",
			mib(r.PeakRSS), r.Size>>20, maxPeakRSS>>20)
	}
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
	o := e.store(t, bucket, nil)
	const key = "velero/backups/large/large.tar.gz"
	r := largeResult{Size: size, BaselineRSS: peakRSS(t)}

	src := newPatternReader(size)
	putHash := sha256.New()
	start := time.Now()
	if err := o.PutObject(ctx, bucket, key, io.TeeReader(src, putHash)); err != nil {
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
	r.SHA256Matches = bytes.Equal(putHash.Sum(nil), getHash.Sum(nil))
	r.PutMBPerSec = float64(size) / 1e6 / r.PutSeconds
	r.GetMBPerSec = float64(size) / 1e6 / r.GetSeconds
	if err := o.DeleteObject(ctx, bucket, key); err != nil {
		t.Error(err)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("%s%s\n", largeResultMark, b)
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status (%v): peak RSS is measured on Linux only", err)
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
	t.Fatal("no VmHWM in /proc/self/status")
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
