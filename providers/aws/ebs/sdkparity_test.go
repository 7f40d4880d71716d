package ebs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestsMatchSDK sends the inputs of testdata/ec2-sdk-requests.txt and
// checks this client's form parameters equal the ones service/ec2 sent for
// them (ClientToken by shape: it is a random UUID).
func TestRequestsMatchSDK(t *testing.T) {
	want := readSDKRequests(t, "testdata/ec2-sdk-requests.txt")
	var mu sync.Mutex
	var got []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p, _ := url.ParseQuery(string(b))
		p.Del("Action")
		p.Del("Version")
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		fmt.Fprint(w, `<Response><requestId>x</requestId><volumeId>vol-1</volumeId><snapshotId>snap-1</snapshotId><return>true</return></Response>`)
	}))
	defer srv.Close()
	c, err := newClient(aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	iops := int64(3000)
	calls := []struct {
		name string
		f    func() error
	}{
		{"CreateSnapshot", func() error {
			_, err := c.createSnapshot(ctx, "vol-0abc", []tag{{"velero.io/backup", "b1"}, {"Name", "data"}})
			return err
		}},
		{"CreateSnapshot-notags", func() error { _, err := c.createSnapshot(ctx, "vol-0abc", nil); return err }},
		{"DeleteSnapshot", func() error { return c.deleteSnapshot(ctx, "snap-0def") }},
		{"DescribeSnapshots", func() error { _, err := c.describeSnapshots(ctx, "snap-0def"); return err }},
		{"DescribeVolumes", func() error { _, err := c.describeVolumes(ctx, "vol-0abc"); return err }},
		{"CreateVolume", func() error {
			_, err := c.createVolume(ctx, createVolumeInput{snapshotID: "snap-0def", zone: "eu-central-1a", volumeType: "io2",
				encrypted: true, kmsKeyID: "alias/ebs", iops: &iops,
				tags: []tag{{"kubernetes.io/cluster/c1", "owned"}, {"KubernetesCluster", "c1"}}})
			return err
		}},
		{"CreateVolume-plain", func() error {
			_, err := c.createVolume(ctx, createVolumeInput{snapshotID: "snap-0def", zone: "eu-central-1a", volumeType: "gp3"})
			return err
		}},
	}
	for i, call := range calls {
		if err := call.f(); err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
		w, ok := want[call.name]
		if !ok {
			t.Fatalf("testdata has no %s", call.name)
		}
		g := got[i]
		if _, sdkHas := w["ClientToken"]; sdkHas {
			if !uuidPattern.MatchString(g.Get("ClientToken")) {
				t.Errorf("%s: ClientToken %q is not a UUID like the SDK's", call.name, g.Get("ClientToken"))
			}
			w.Del("ClientToken")
			g.Del("ClientToken")
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s parameters differ from service/ec2's:\n got  %v\n want %v", call.name, g, w)
		}
	}
}

func readSDKRequests(t *testing.T, path string) map[string]url.Values {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]url.Values{}
	var cur url.Values
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# ") || line == "":
		case strings.HasPrefix(line, "### "):
			cur = url.Values{}
			out[strings.TrimPrefix(line, "### ")] = cur
		default:
			k, v, _ := strings.Cut(line, "=")
			cur.Add(k, v)
		}
	}
	return out
}
