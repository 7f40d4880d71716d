// Package awsconf builds the aws.Config shared by the velero.io/aws object
// store and volume snapshotter from the keys velero-plugin-for-aws reads:
// region, profile, credentialsFile, enableSharedConfig, caCert and
// insecureSkipTLSVerify. It holds no service client, so importing it costs
// neither S3 nor EC2.
package awsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Config keys shared by the object store and the volume snapshotter, named
// as velero-plugin-for-aws names them.
const (
	KeyRegion                = "region"
	KeyProfile               = "profile"
	KeyCredentialsFile       = "credentialsFile"
	KeyEnableSharedConfig    = "enableSharedConfig"
	KeyCACert                = "caCert"
	KeyInsecureSkipTLSVerify = "insecureSkipTLSVerify"
)

// Options selects how credentials, region and TLS are resolved.
type Options struct {
	// Region is the AWS region; "" leaves it to the environment and shared
	// config (AWS_REGION, the profile's region).
	Region string
	// Profile is the shared-config profile; "" means AWS_PROFILE or "default".
	Profile string
	// CredentialsFile is a shared credentials file (INI) that is also read as
	// the shared config file, as velero-plugin-for-aws does. "" falls back to
	// $AWS_SHARED_CREDENTIALS_FILE. When a file is in use its profile wins
	// over web-identity (IRSA) variables in the environment.
	CredentialsFile string
	// CACert is PEM data added to the system roots for TLS.
	CACert string
	// InsecureSkipTLSVerify turns off TLS certificate verification.
	InsecureSkipTLSVerify bool
}

// Load resolves an aws.Config from o. When a credentials file is in use the
// credentials are retrieved once here, so a missing file or profile fails at
// Init, not at the first request. Errors name the config key at fault and
// never contain credential material.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	file, source := o.CredentialsFile, KeyCredentialsFile
	if file == "" {
		file, source = os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "$AWS_SHARED_CREDENTIALS_FILE"
	}
	profile := o.Profile
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			return aws.Config{}, fmt.Errorf("%s: %w", source, err)
		}
		opts = append(opts,
			config.WithSharedCredentialsFiles([]string{file}),
			config.WithSharedConfigFiles([]string{file}))
		// velero-plugin-for-aws clears the IRSA variables from its process
		// environment so the file wins; naming the profile explicitly has the
		// same effect in the SDK's resolution order without touching the
		// environment of the whole process.
		if profile == "" {
			profile = os.Getenv("AWS_PROFILE")
		}
		if profile == "" {
			profile = "default"
		}
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if o.CACert != "" || o.InsecureSkipTLSVerify {
		client, err := httpClient(o.CACert, o.InsecureSkipTLSVerify)
		if err != nil {
			return aws.Config{}, err
		}
		opts = append(opts, config.WithHTTPClient(client))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, describe(err, file, profile)
	}
	if file != "" {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return aws.Config{}, describe(err, file, profile)
		}
	}
	return cfg, nil
}

// describe names the file and profile an SDK configuration error is about.
func describe(err error, file, profile string) error {
	switch {
	case file != "" && profile != "":
		return fmt.Errorf("load AWS config (%s %q, %s %q): %w", KeyCredentialsFile, file, KeyProfile, profile, err)
	case profile != "":
		return fmt.Errorf("load AWS config (%s %q): %w", KeyProfile, profile, err)
	}
	return fmt.Errorf("load AWS config: %w", err)
}

func httpClient(caCert string, insecure bool) (*awshttp.BuildableClient, error) {
	var roots *x509.CertPool
	if caCert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(caCert)) {
			return nil, fmt.Errorf("%s: no PEM certificate found in the value", KeyCACert)
		}
		roots = pool
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if roots != nil {
			tr.TLSClientConfig.RootCAs = roots
		}
		tr.TLSClientConfig.InsecureSkipVerify = insecure //nolint:gosec // the user asked for it with insecureSkipTLSVerify
	}), nil
}

// ErrInvalidConfig marks an Init error caused by the configuration (an
// unknown key or a malformed value) rather than by the network or AWS.
var ErrInvalidConfig = errors.New("invalid config")

// CheckKeys returns an error wrapping ErrInvalidConfig that names every key
// of config not in allowed, and lists the allowed keys.
func CheckKeys(config map[string]string, allowed ...string) error {
	var unknown []string
	for k := range config {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	valid := slices.Clone(allowed)
	slices.Sort(valid)
	return fmt.Errorf("%w: unknown key(s) %s; valid keys are %s", ErrInvalidConfig, quoteAll(unknown), strings.Join(valid, ", "))
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// Bool parses config[key] as strconv.ParseBool does; an absent or empty value
// is false. A malformed value is an error wrapping ErrInvalidConfig naming the
// key.
func Bool(config map[string]string, key string) (bool, error) {
	v := config[key]
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %q is not a boolean (want true or false)", ErrInvalidConfig, key, v)
	}
	return b, nil
}
