package ebs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// apiVersion is the EC2 Query API version service/ec2 speaks.
const apiVersion = "2016-11-15"

// maxResponse bounds the EC2 response bodies read (a describe of one
// snapshot or volume is a few KiB).
const maxResponse = 4 << 20

// client calls the EC2 Query API: a form-encoded POST signed with SigV4,
// answered with XML. It covers the five actions the snapshotter needs.
type client struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     aws.HTTPClient
	signer   *v4.Signer
	retryer  aws.Retryer
	now      func() time.Time
}

// newClient builds a client for cfg's region and credentials. The endpoint
// is, in order: $AWS_ENDPOINT_URL_EC2, cfg.BaseEndpoint ($AWS_ENDPOINT_URL),
// or the region's public endpoint (FIPS when $AWS_USE_FIPS_ENDPOINT=true).
func newClient(cfg aws.Config) (*client, error) {
	endpoint := ""
	if !envTrue("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_EC2")
		if endpoint == "" && cfg.BaseEndpoint != nil {
			endpoint = *cfg.BaseEndpoint
		}
	}
	if endpoint == "" {
		endpoint = regionEndpoint(cfg.Region, envTrue("AWS_USE_FIPS_ENDPOINT"))
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("EC2 endpoint %q is not an http(s) URL", endpoint)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	creds := cfg.Credentials
	if creds == nil {
		creds = aws.AnonymousCredentials{}
	}
	return &client{
		endpoint: strings.TrimRight(endpoint, "/") + "/",
		region:   cfg.Region,
		creds:    creds,
		http:     httpClient,
		signer:   v4.NewSigner(),
		retryer:  retry.NewStandard(),
		now:      time.Now,
	}, nil
}

func envTrue(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

// regionEndpoint is EC2's public endpoint in region, by partition.
func regionEndpoint(region string, fips bool) string {
	host := "ec2"
	if fips {
		host = "ec2-fips"
	}
	suffix := "amazonaws.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		suffix = "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-isob-"):
		suffix = "sc2s.sgov.gov"
	case strings.HasPrefix(region, "us-iso-"):
		suffix = "c2s.ic.gov"
	}
	return "https://" + host + "." + region + "." + suffix
}

// APIError is an error EC2 answered with. It implements smithy.APIError, so
// errors.As to smithy.APIError gives EC2's code ("InvalidVolume.NotFound",
// "UnauthorizedOperation", …), as it does for service/ec2's errors.
type APIError struct {
	Action     string // the EC2 action, such as "CreateSnapshot"
	StatusCode int    // the HTTP status
	Code       string
	Message    string
	RequestID  string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("EC2 %s: %s: %s (HTTP %d, request ID %s)", e.Action, e.Code, e.Message, e.StatusCode, e.RequestID)
}

// ErrorCode returns EC2's error code.
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage returns EC2's error message.
func (e *APIError) ErrorMessage() string { return e.Message }

// ErrorFault says whether the client or the server is at fault.
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatusCode returns the HTTP status, which the SDK's retryer reads.
func (e *APIError) HTTPStatusCode() int { return e.StatusCode }

var _ smithy.APIError = (*APIError)(nil)

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// call sends action with params and decodes the XML answer into out,
// retrying as the SDK's standard retryer decides (throttling, 5xx,
// connection errors; up to 3 attempts with jittered backoff).
func (c *client) call(ctx context.Context, action string, params url.Values, out any) error {
	params.Set("Action", action)
	params.Set("Version", apiVersion)
	body := params.Encode()
	for attempt := 1; ; attempt++ {
		err := c.do(ctx, action, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) {
			return err
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("EC2 %s: %w (retrying after: %w)", action, ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (c *client) do(ctx context.Context, action, body string, out any) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("EC2 %s: retrieve credentials: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("EC2 %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", c.region, c.now().UTC()); err != nil {
		return fmt.Errorf("EC2 %s: sign: %w", action, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("EC2 %s: %w", action, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("EC2 %s: read response: %w", action, err)
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(action, resp.StatusCode, data)
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("EC2 %s: decode response: %w", action, err)
	}
	return nil
}

// decodeError reads EC2's error document:
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
func decodeError(action string, status int, data []byte) error {
	var doc struct {
		Errors []struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Errors>Error"`
		RequestID string `xml:"RequestID"`
	}
	e := &APIError{Action: action, StatusCode: status}
	if xml.Unmarshal(data, &doc) == nil && len(doc.Errors) > 0 {
		e.Code, e.Message, e.RequestID = doc.Errors[0].Code, doc.Errors[0].Message, doc.RequestID
	} else {
		e.Code = http.StatusText(status)
		e.Message = strings.TrimSpace(string(bytes.ToValidUTF8(data[:min(len(data), 256)], nil)))
	}
	return e
}

// xmlTag is an item of a tagSet.
type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagsOf(x []xmlTag) []tag {
	out := make([]tag, len(x))
	for i, t := range x {
		out[i] = tag(t)
	}
	return out
}

// putTags adds a TagSpecification for resourceType, as service/ec2
// serializes it.
func putTags(p url.Values, resourceType string, tags []tag) {
	p.Set("TagSpecification.1.ResourceType", resourceType)
	for i, t := range tags {
		n := strconv.Itoa(i + 1)
		p.Set("TagSpecification.1.Tag."+n+".Key", t.Key)
		p.Set("TagSpecification.1.Tag."+n+".Value", t.Value)
	}
}

// snapshot is what the snapshotter needs of a DescribeSnapshots item.
type snapshot struct {
	id        string
	encrypted bool
	tags      []tag
}

func (c *client) describeSnapshots(ctx context.Context, id string) ([]snapshot, error) {
	var out struct {
		Items []struct {
			ID        string   `xml:"snapshotId"`
			Encrypted bool     `xml:"encrypted"`
			Tags      []xmlTag `xml:"tagSet>item"`
		} `xml:"snapshotSet>item"`
	}
	if err := c.call(ctx, "DescribeSnapshots", url.Values{"SnapshotId.1": {id}}, &out); err != nil {
		return nil, err
	}
	snaps := make([]snapshot, len(out.Items))
	for i, it := range out.Items {
		snaps[i] = snapshot{id: it.ID, encrypted: it.Encrypted, tags: tagsOf(it.Tags)}
	}
	return snaps, nil
}

// volume is what the snapshotter needs of a DescribeVolumes item.
type volume struct {
	id, volumeType, zone string
	iops                 *int64
	tags                 []tag
}

func (c *client) describeVolumes(ctx context.Context, id string) ([]volume, error) {
	var out struct {
		Items []struct {
			ID   string   `xml:"volumeId"`
			Type string   `xml:"volumeType"`
			Zone string   `xml:"availabilityZone"`
			IOPS *int64   `xml:"iops"`
			Tags []xmlTag `xml:"tagSet>item"`
		} `xml:"volumeSet>item"`
	}
	if err := c.call(ctx, "DescribeVolumes", url.Values{"VolumeId.1": {id}}, &out); err != nil {
		return nil, err
	}
	vols := make([]volume, len(out.Items))
	for i, it := range out.Items {
		vols[i] = volume{id: it.ID, volumeType: it.Type, zone: it.Zone, iops: it.IOPS, tags: tagsOf(it.Tags)}
	}
	return vols, nil
}

func (c *client) createSnapshot(ctx context.Context, volumeID string, tags []tag) (string, error) {
	p := url.Values{"VolumeId": {volumeID}}
	putTags(p, "snapshot", tags)
	var out struct {
		ID string `xml:"snapshotId"`
	}
	if err := c.call(ctx, "CreateSnapshot", p, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("EC2 CreateSnapshot: the response has no snapshotId")
	}
	return out.ID, nil
}

func (c *client) deleteSnapshot(ctx context.Context, id string) error {
	var out struct {
		Return bool `xml:"return"`
	}
	return c.call(ctx, "DeleteSnapshot", url.Values{"SnapshotId": {id}}, &out)
}

// clientToken returns a random (version 4) UUID.
func clientToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// createVolumeInput is a CreateVolume request.
type createVolumeInput struct {
	snapshotID, zone, volumeType string
	encrypted                    bool
	kmsKeyID                     string
	iops                         *int64
	tags                         []tag
}

func (c *client) createVolume(ctx context.Context, in createVolumeInput) (string, error) {
	p := url.Values{
		"SnapshotId":       {in.snapshotID},
		"AvailabilityZone": {in.zone},
		"Encrypted":        {strconv.FormatBool(in.encrypted)},
	}
	if in.volumeType != "" {
		p.Set("VolumeType", in.volumeType)
	}
	if in.kmsKeyID != "" {
		p.Set("KmsKeyId", in.kmsKeyID)
	}
	if in.iops != nil {
		p.Set("Iops", strconv.FormatInt(*in.iops, 10))
	}
	putTags(p, "volume", in.tags)
	// The idempotency token service/ec2 fills in too: a retried request
	// (same token) cannot create a second volume.
	token, err := clientToken()
	if err != nil {
		return "", fmt.Errorf("EC2 CreateVolume: %w", err)
	}
	p.Set("ClientToken", token)
	var out struct {
		ID string `xml:"volumeId"`
	}
	if err := c.call(ctx, "CreateVolume", p, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("EC2 CreateVolume: the response has no volumeId")
	}
	return out.ID, nil
}
