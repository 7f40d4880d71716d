package ebs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	fakeAccess = "AKIDEBSTEST"
	fakeSecret = "ebs-secret-never-in-errors"
	fakeRegion = "eu-central-1"
)

// fakeEC2 is an in-process EC2 Query API endpoint. It checks every request
// is a form POST whose SigV4 signature it can reproduce with the test
// credentials (service ec2, the client's region), records the action and
// parameters, and answers with the XML documents of the EC2 API reference
// (DescribeVolumes, DescribeSnapshots, CreateSnapshot, CreateVolume,
// DeleteSnapshot, and the <Response><Errors> error document).
type fakeEC2 struct {
	t *testing.T

	mu        sync.Mutex
	calls     []call
	volumes   map[string]fakeVolume
	snapshots map[string]fakeSnapshot
	next      int
	failNext  []string // codes to answer the next requests of failOn with (RequestLimitExceeded, …)
	failOn    string   // the action failNext applies to; "" for any
}

type call struct {
	Action string
	Params url.Values // without Action and Version
}

type fakeVolume struct {
	Type, Zone string
	IOPS       int // 0: the element is absent
	Tags       []tag
}

type fakeSnapshot struct {
	Volume    string
	Encrypted bool
	Tags      []tag
}

func newFakeEC2(t *testing.T) (*fakeEC2, *httptest.Server) {
	f := &fakeEC2{t: t, volumes: map[string]fakeVolume{}, snapshots: map[string]fakeSnapshot{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.t.Errorf("request %s with Content-Type %q; want a form POST", r.Method, r.Header.Get("Content-Type"))
	}
	if err := verifySignature(r, body); err != nil {
		f.t.Errorf("signature: %v", err)
		f.fail(w, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		return
	}
	p, err := url.ParseQuery(string(body))
	if err != nil {
		f.t.Errorf("form %q: %v", body, err)
	}
	action := p.Get("Action")
	if v := p.Get("Version"); v != apiVersion {
		f.t.Errorf("%s: Version=%q; want %s", action, v, apiVersion)
	}
	p.Del("Action")
	p.Del("Version")

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{action, p})
	if len(f.failNext) > 0 && (f.failOn == "" || f.failOn == action) {
		code := f.failNext[0]
		f.failNext = f.failNext[1:]
		f.fail(w, http.StatusServiceUnavailable, code, "Request limit exceeded.")
		return
	}
	switch action {
	case "DescribeVolumes":
		id := p.Get("VolumeId.1")
		v, ok := f.volumes[id]
		if !ok {
			f.fail(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
			return
		}
		iops := ""
		if v.IOPS != 0 {
			iops = fmt.Sprintf("<iops>%d</iops>", v.IOPS)
		}
		f.ok(w, action, fmt.Sprintf(`<volumeSet><item><volumeId>%s</volumeId><size>8</size><snapshotId/><availabilityZone>%s</availabilityZone>`+
			`<status>in-use</status><createTime>2026-01-01T00:00:00.000Z</createTime><attachmentSet/>%s<tagSet>%s</tagSet>`+
			`<volumeType>%s</volumeType><encrypted>false</encrypted><multiAttachEnabled>false</multiAttachEnabled></item></volumeSet>`,
			id, v.Zone, iops, tagSetXML(v.Tags), v.Type))
	case "DescribeSnapshots":
		id := p.Get("SnapshotId.1")
		s, ok := f.snapshots[id]
		if !ok {
			f.fail(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			return
		}
		f.ok(w, action, fmt.Sprintf(`<snapshotSet><item><snapshotId>%s</snapshotId><volumeId>%s</volumeId><status>completed</status>`+
			`<startTime>2026-01-01T00:00:00.000Z</startTime><progress>100%%</progress><ownerId>111122223333</ownerId><volumeSize>8</volumeSize>`+
			`<description/><encrypted>%t</encrypted><tagSet>%s</tagSet></item></snapshotSet>`, id, s.Volume, s.Encrypted, tagSetXML(s.Tags)))
	case "CreateSnapshot":
		vol := p.Get("VolumeId")
		if _, ok := f.volumes[vol]; !ok {
			f.fail(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", vol))
			return
		}
		f.next++
		id := fmt.Sprintf("snap-%017d", f.next)
		f.snapshots[id] = fakeSnapshot{Volume: vol, Tags: tagsFromParams(p)}
		f.ok(w, action, fmt.Sprintf(`<snapshotId>%s</snapshotId><volumeId>%s</volumeId><status>pending</status>`+
			`<startTime>2026-01-01T00:00:00.000Z</startTime><progress/><ownerId>111122223333</ownerId><volumeSize>8</volumeSize>`+
			`<encrypted>false</encrypted><tagSet>%s</tagSet>`, id, vol, tagSetXML(tagsFromParams(p))))
	case "CreateVolume":
		snap := p.Get("SnapshotId")
		if _, ok := f.snapshots[snap]; !ok {
			f.fail(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", snap))
			return
		}
		f.next++
		id := fmt.Sprintf("vol-%017d", f.next)
		f.volumes[id] = fakeVolume{Type: p.Get("VolumeType"), Zone: p.Get("AvailabilityZone"), Tags: tagsFromParams(p)}
		f.ok(w, action, fmt.Sprintf(`<volumeId>%s</volumeId><size>8</size><snapshotId>%s</snapshotId><availabilityZone>%s</availabilityZone>`+
			`<status>creating</status><createTime>2026-01-01T00:00:00.000Z</createTime><volumeType>%s</volumeType><encrypted>%s</encrypted>`,
			id, snap, p.Get("AvailabilityZone"), p.Get("VolumeType"), p.Get("Encrypted")))
	case "DeleteSnapshot":
		id := p.Get("SnapshotId")
		if id == "snap-forbidden" {
			f.fail(w, http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
			return
		}
		if _, ok := f.snapshots[id]; !ok {
			f.fail(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			return
		}
		delete(f.snapshots, id)
		f.ok(w, action, `<return>true</return>`)
	default:
		f.fail(w, http.StatusBadRequest, "InvalidAction", "The action "+action+" is not valid for this web service.")
	}
}

func (f *fakeEC2) ok(w http.ResponseWriter, action, inner string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>%s</%sResponse>`,
		action, inner, action)
}

func (f *fakeEC2) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-EXAMPLE</RequestID></Response>`,
		code, msg)
}

func (f *fakeEC2) callsOf(action string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func tagSetXML(tags []tag) string {
	var b strings.Builder
	for _, t := range tags {
		fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", t.Key, t.Value)
	}
	return b.String()
}

func tagsFromParams(p url.Values) []tag {
	var out []tag
	for i := 1; ; i++ {
		k := fmt.Sprintf("TagSpecification.1.Tag.%d.", i)
		if _, ok := p[k+"Key"]; !ok {
			return out
		}
		out = append(out, tag{p.Get(k + "Key"), p.Get(k + "Value")})
	}
}

// verifySignature re-signs the request's signed headers and body with the
// test credentials at the request's X-Amz-Date and compares signatures.
func verifySignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	wantScope := "/" + fakeRegion + "/ec2/aws4_request"
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+fakeAccess+"/") || !strings.Contains(auth, wantScope) {
		return fmt.Errorf("Authorization %q: want SigV4 by %s with scope …%s", auth, fakeAccess, wantScope)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	clone, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: fakeAccess, SecretAccessKey: fakeSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, hex.EncodeToString(sum[:]), "ec2", fakeRegion, at); err != nil {
		return err
	}
	if got := clone.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return nil
}
