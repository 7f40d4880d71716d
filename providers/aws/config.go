package aws

import (
	"crypto/md5" //nolint:gosec // S3 requires the MD5 of an SSE-C key; it is not used for security
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rigging-dev/rigging/providers/aws/internal/awsconf"
)

// Config keys of the object store, with the names and meanings of
// velero-plugin-for-aws v1.14. Velero adds bucket and prefix (and caCert,
// credentialsFile when the location has them) to a location's config.
const (
	KeyBucket                      = "bucket"
	KeyPrefix                      = "prefix"
	KeyRegion                      = awsconf.KeyRegion
	KeyS3URL                       = "s3Url"
	KeyPublicURL                   = "publicUrl"
	KeyS3ForcePathStyle            = "s3ForcePathStyle"
	KeyProfile                     = awsconf.KeyProfile
	KeyCredentialsFile             = awsconf.KeyCredentialsFile
	KeyEnableSharedConfig          = awsconf.KeyEnableSharedConfig
	KeyInsecureSkipTLSVerify       = awsconf.KeyInsecureSkipTLSVerify
	KeyCACert                      = awsconf.KeyCACert
	KeyKMSKeyID                    = "kmsKeyId"
	KeyServerSideEncryption        = "serverSideEncryption"
	KeyCustomerKeyEncryptionFile   = "customerKeyEncryptionFile"
	KeyCustomerKeyEncryptionSecret = "customerKeyEncryptionSecret"
	KeyTagging                     = "tagging"
	KeyChecksumAlgorithm           = "checksumAlgorithm"
	KeySignatureVersion            = "signatureVersion"
)

// objectStoreKeys are the keys Init accepts.
var objectStoreKeys = []string{
	KeyBucket, KeyPrefix, KeyRegion, KeyS3URL, KeyPublicURL, KeyS3ForcePathStyle,
	KeyProfile, KeyCredentialsFile, KeyEnableSharedConfig, KeyInsecureSkipTLSVerify,
	KeyCACert, KeyKMSKeyID, KeyServerSideEncryption, KeyCustomerKeyEncryptionFile,
	KeyCustomerKeyEncryptionSecret, KeyTagging, KeyChecksumAlgorithm, KeySignatureVersion,
}

// storeConfig is the parsed, validated object-store config.
type storeConfig struct {
	bucket, region, s3URL, publicURL string
	forcePathStyle                   bool
	conf                             awsconf.Options
	kmsKeyID, sse                    string
	sseCustomerKey, sseCustomerMD5   string // base64, set together
	secretRef                        string // customerKeyEncryptionSecret: "name/key"
	tagging                          string
	checksum                         types.ChecksumAlgorithm
	signatureV1                      bool
}

// parseConfig validates config the way velero-plugin-for-aws v1.14 does,
// with one deliberate difference: a single tag ("a=b") is accepted in
// tagging, where the original insists on at least two. Every error wraps
// awsconf.ErrInvalidConfig and names the key.
func parseConfig(config map[string]string) (storeConfig, error) {
	if err := awsconf.CheckKeys(config, objectStoreKeys...); err != nil {
		return storeConfig{}, err
	}
	c := storeConfig{
		bucket:    config[KeyBucket],
		region:    config[KeyRegion],
		s3URL:     config[KeyS3URL],
		publicURL: config[KeyPublicURL],
		kmsKeyID:  config[KeyKMSKeyID],
		sse:       config[KeyServerSideEncryption],
		secretRef: config[KeyCustomerKeyEncryptionSecret],
		tagging:   config[KeyTagging],
		conf: awsconf.Options{
			Region:          config[KeyRegion],
			Profile:         config[KeyProfile],
			CredentialsFile: config[KeyCredentialsFile],
			CACert:          config[KeyCACert],
		},
	}
	var err error
	if c.forcePathStyle, err = awsconf.Bool(config, KeyS3ForcePathStyle); err != nil {
		return c, err
	}
	if c.conf.InsecureSkipTLSVerify, err = awsconf.Bool(config, KeyInsecureSkipTLSVerify); err != nil {
		return c, err
	}
	// The SDK v2 always reads the shared config file, so enableSharedConfig
	// only has to be a boolean (as it is a no-op in velero-plugin-for-aws v1.14).
	if _, err = awsconf.Bool(config, KeyEnableSharedConfig); err != nil {
		return c, err
	}
	for _, k := range []string{KeyS3URL, KeyPublicURL} {
		if err := checkURL(k, config[k]); err != nil {
			return c, err
		}
	}
	switch v := config[KeySignatureVersion]; v {
	case "", "4":
	case "1":
		// velero-plugin-for-aws v1.14 accepts "1" and signs with SigV4 anyway.
		c.signatureV1 = true
	default:
		return c, fmt.Errorf("%w: %s: %q is not a signature version (want \"4\", or \"1\" which is signed as 4 as velero-plugin-for-aws v1.14 does)", awsconf.ErrInvalidConfig, KeySignatureVersion, v)
	}
	n := 0
	for _, k := range []string{KeyKMSKeyID, KeyCustomerKeyEncryptionFile, KeyCustomerKeyEncryptionSecret} {
		if config[k] != "" {
			n++
		}
	}
	if n > 1 {
		return c, fmt.Errorf("%w: use only one of %s, %s and %s", awsconf.ErrInvalidConfig, KeyKMSKeyID, KeyCustomerKeyEncryptionFile, KeyCustomerKeyEncryptionSecret)
	}
	if f := config[KeyCustomerKeyEncryptionFile]; f != "" {
		key, err := readCustomerKey(f)
		if err != nil {
			return c, err
		}
		c.sseCustomerKey, c.sseCustomerMD5 = encodeCustomerKey(key)
	}
	if c.tagging != "" {
		if err := checkTagging(c.tagging); err != nil {
			return c, err
		}
	}
	c.checksum = types.ChecksumAlgorithmCrc32 // the default when the key is absent
	if alg, ok := config[KeyChecksumAlgorithm]; ok {
		a := types.ChecksumAlgorithm(alg)
		if alg != "" && !slices.Contains(a.Values(), a) {
			return c, fmt.Errorf("%w: %s: %q is not one of %v (or \"\" for none)", awsconf.ErrInvalidConfig, KeyChecksumAlgorithm, alg, a.Values())
		}
		c.checksum = a
	}
	if c.s3URL == "" && c.region == "" && c.bucket == "" {
		return c, fmt.Errorf("%w: %s is required to discover the region when neither %s nor %s is set", awsconf.ErrInvalidConfig, KeyBucket, KeyRegion, KeyS3URL)
	}
	return c, nil
}

func checkURL(key, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		// The value is not echoed: a malformed URL may still hold a password.
		return fmt.Errorf("%w: %s: not a valid URL", awsconf.ErrInvalidConfig, key)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Redacted: a user:password in the URL never reaches the error.
		return fmt.Errorf("%w: %s: %q is not an http:// or https:// URL", awsconf.ErrInvalidConfig, key, u.Redacted())
	}
	return nil
}

// customerKeySize is the size of an SSE-C key (AES-256).
const customerKeySize = 32

// readCustomerKey reads the 32-byte SSE-C key from path. The key itself never
// appears in an error.
func readCustomerKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", awsconf.ErrInvalidConfig, KeyCustomerKeyEncryptionFile, err)
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, customerKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: read %s: %w", awsconf.ErrInvalidConfig, KeyCustomerKeyEncryptionFile, path, err)
	}
	if len(key) != customerKeySize {
		return nil, fmt.Errorf("%w: %s: %s must hold exactly %d bytes", awsconf.ErrInvalidConfig, KeyCustomerKeyEncryptionFile, path, customerKeySize)
	}
	return key, nil
}

func encodeCustomerKey(key []byte) (b64, md5b64 string) {
	sum := md5.Sum(key) //nolint:gosec // required by the SSE-C protocol
	return base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
}

// S3's limits on object tags.
const (
	maxTags        = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// checkTagging validates a URL-query-encoded tag set ("k1=v1&k2=v2") against
// S3's limits.
func checkTagging(s string) error {
	q, err := url.ParseQuery(s)
	if err != nil {
		return fmt.Errorf("%w: %s: %q is not URL-encoded key=value pairs joined by '&': %w", awsconf.ErrInvalidConfig, KeyTagging, s, err)
	}
	if len(q) > maxTags {
		return fmt.Errorf("%w: %s: %d tags, S3 allows at most %d", awsconf.ErrInvalidConfig, KeyTagging, len(q), maxTags)
	}
	for k, vs := range q {
		switch {
		case k == "":
			return fmt.Errorf("%w: %s: a tag has an empty key", awsconf.ErrInvalidConfig, KeyTagging)
		case len(vs) > 1:
			return fmt.Errorf("%w: %s: tag %q is given %d times", awsconf.ErrInvalidConfig, KeyTagging, k, len(vs))
		case utf8.RuneCountInString(k) > maxTagKeyLen:
			return fmt.Errorf("%w: %s: tag key %q is longer than %d characters", awsconf.ErrInvalidConfig, KeyTagging, k, maxTagKeyLen)
		case utf8.RuneCountInString(vs[0]) > maxTagValueLen:
			return fmt.Errorf("%w: %s: the value of tag %q is longer than %d characters", awsconf.ErrInvalidConfig, KeyTagging, k, maxTagValueLen)
		}
	}
	return nil
}
