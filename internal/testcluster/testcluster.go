// Package testcluster runs a real Kubernetes API server (kube-apiserver and
// etcd, built from module testcluster/ by `make testcluster`) for the tests
// that need a live cluster.
//
// A test package that uses it runs its tests through Main from TestMain and
// asks for the cluster with Get:
//
//	func TestMain(m *testing.M) {
//		os.Exit(testcluster.Main(m, testcluster.Options{Seed: []string{testcluster.ClusterExport}}))
//	}
//
//	func TestSomething(t *testing.T) {
//		c := testcluster.Get(t)
//		... c.Config() ...
//	}
//
// The API server starts at the first Get (tests that never ask pay nothing),
// once per test binary, on loopback only, and Main stops it when the tests
// are done (and on SIGINT or SIGTERM). It has every built-in API, the
// external-snapshotter v8 snapshot CRDs and the CRDs of the manifests under
// testdata/manifests installed, and no controller manager: nothing deletes a
// namespace, binds a claim or runs a pod. Tests set what a controller would
// through the status subresource, and restore into namespaces of their own.
//
// The binaries are found in $RIGGING_TESTCLUSTER_BIN, else in bin/testcluster
// of the repository. Without them Get skips the test with a message that says
// how to build them, except under CI (CI=true), where a cluster test that
// cannot run fails.
package testcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// BinDirEnv names the environment variable that holds the directory of the
// kube-apiserver and etcd binaries (`make testcluster` writes them to
// bin/testcluster, the default when the variable is unset).
const BinDirEnv = "RIGGING_TESTCLUSTER_BIN"

// ErrNoBinaries reports that kube-apiserver or etcd is not where the
// package looks for it. Its message says how to build them.
var ErrNoBinaries = errors.New("no kube-apiserver and etcd binaries: build them with `make testcluster` (about 20 minutes cold on 2 cores, seconds when the Go build cache is warm), or point " + BinDirEnv + " at a directory that has both")

// ServiceCIDR is the service IP range of the test API server: the range of
// the clusters (EKS's default) that testdata/manifests/cluster-export was
// taken from, so its Services keep their cluster IPs.
const ServiceCIDR = "10.100.0.0/16"

// Config says how Start runs the control plane. The zero value is usable.
type Config struct {
	// BinDir holds the kube-apiserver and etcd executables. Default:
	// BinDir() (from the environment, or the repository's bin/testcluster).
	BinDir string
	// StartTimeout bounds the start of each of etcd and kube-apiserver.
	// Default 90s (2 busy cores; the API server is ready in about 5 s on an
	// idle machine).
	StartTimeout time.Duration
	// Output, when true, copies the processes' output to the test binary's
	// standard error. Default false (their output is kept by envtest and
	// dropped).
	Output bool
}

// Cluster is a running test API server and its etcd.
type Cluster struct {
	env        *envtest.Environment
	config     *rest.Config
	token      string
	dir        string
	kubeconfig string
}

// BinDir returns the directory Start looks for the binaries in when
// Config.BinDir is empty: $RIGGING_TESTCLUSTER_BIN, else bin/testcluster of
// the repository that holds the working directory, else "" (none found).
func BinDir() string {
	if d := os.Getenv(BinDirEnv); d != "" {
		return d
	}
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "bin", "testcluster")
}

// checkBinaries returns an error wrapping ErrNoBinaries, naming dir, unless
// both executables are in dir.
func checkBinaries(dir string) error {
	if dir == "" {
		return ErrNoBinaries
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: %w", filepath.Join(dir, name), ErrNoBinaries)
		}
	}
	return nil
}

// Start starts etcd and kube-apiserver on loopback, waits until the API
// server is ready, and installs the snapshot CRDs and the CRDs of
// testdata/manifests (waiting until they are established). On error nothing
// is left running and no temporary file is left behind.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.BinDir == "" {
		cfg.BinDir = BinDir()
	}
	if err := checkBinaries(cfg.BinDir); err != nil {
		return nil, err
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 90 * time.Second
	}
	crds, err := testCRDs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rigging-testcluster-")
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group": the admin is in system:masters, which RBAC
	// lets do everything.
	if err := os.WriteFile(tokenFile, []byte(token+`,rigging-admin,rigging-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}

	env := &envtest.Environment{
		ControlPlaneStartTimeout: cfg.StartTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
		AttachControlPlaneOutput: cfg.Output,
		// Never USE_EXISTING_CLUSTER's cluster: the tests write into it.
		UseExistingCluster: new(false),
		CRDInstallOptions: envtest.CRDInstallOptions{
			CRDs:    crds,
			MaxTime: cfg.StartTimeout,
		},
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(cfg.BinDir, "etcd")}
	api := env.ControlPlane.GetAPIServer()
	api.Path = filepath.Join(cfg.BinDir, "kube-apiserver")
	args := api.Configure()
	// A loopback advertise address is refused unless nothing reconciles
	// the endpoints of the kubernetes Service.
	args.Set("advertise-address", "127.0.0.1")
	args.Set("endpoint-reconciler-type", "none")
	args.Set("service-cluster-ip-range", ServiceCIDR)
	args.Set("token-auth-file", tokenFile)

	quietLogOnce.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	started := make(chan error, 1)
	go func() {
		_, err := env.Start()
		started <- err
	}()
	select {
	case err = <-started:
	case <-ctx.Done():
		// envtest's Start takes no context: wait for it, then stop what
		// it started.
		<-started
		err = ctx.Err()
	}
	if err != nil {
		stopErr := env.Stop()
		return nil, errors.Join(fmt.Errorf("testcluster: start kube-apiserver and etcd from %s: %w", cfg.BinDir, err), stopErr)
	}
	c = &Cluster{env: env, token: token, dir: dir}
	c.config = &rest.Config{
		Host:            env.Config.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData},
		QPS:             -1, // no client-side throttling in tests
		// cluster-export has objects of deprecated APIs (v1 Endpoints):
		// the server's warnings about them are expected.
		WarningHandler: rest.NoWarnings{},
	}
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := c.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return c, nil
}

// quietLogOnce silences controller-runtime's logger, which envtest logs
// through and which otherwise warns that it was never set.
var quietLogOnce sync.Once

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("testcluster: admin token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// writeKubeconfig writes the admin's kubeconfig (context "testcluster").
func (c *Cluster) writeKubeconfig() error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testcluster"] = &clientcmdapi.Cluster{Server: c.config.Host, CertificateAuthorityData: c.config.CAData}
	kc.AuthInfos["rigging-admin"] = &clientcmdapi.AuthInfo{Token: c.token}
	kc.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: "rigging-admin"}
	kc.CurrentContext = "testcluster"
	if err := clientcmd.WriteToFile(*kc, c.kubeconfig); err != nil {
		return fmt.Errorf("testcluster: write kubeconfig: %w", err)
	}
	return nil
}

// Config returns a new copy of the admin's client configuration (a bearer
// token in group system:masters, the server's CA, no client-side rate
// limit, the server's warnings dropped). The caller may change it.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Token returns the admin's bearer token.
func (c *Cluster) Token() string { return c.token }

// Kubeconfig returns the path of a kubeconfig file whose current context
// ("testcluster") is the admin on this API server. It is removed by Stop.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Stop stops kube-apiserver and etcd and removes their data and the
// cluster's files. It is safe to call more than once.
func (c *Cluster) Stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	err := c.env.Stop()
	c.env = nil
	if rmErr := os.RemoveAll(c.dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		return fmt.Errorf("testcluster: stop: %w", err)
	}
	return nil
}

// testCRDs returns the CRDs every test API server has: the embedded
// snapshot CRDs and those of the manifests under testdata/manifests.
func testCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	crds, err := snapshotCRDs()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	more, err := ManifestCRDs(filepath.Join(root, "testdata", "manifests"))
	if err != nil {
		return nil, err
	}
	return append(crds, more...), nil
}

// RepoRoot returns the root of the rigging repository that holds the
// working directory (a test's package directory): the nearest directory
// upwards whose go.mod declares module github.com/rigging-dev/rigging.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testcluster: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(string(b)) == "github.com/rigging-dev/rigging" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testcluster: the working directory is not inside the rigging repository (no go.mod of module github.com/rigging-dev/rigging above it)")
		}
		dir = parent
	}
}

func modulePath(gomod string) string {
	for line := range strings.Lines(gomod) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
