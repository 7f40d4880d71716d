// Package veleroserver runs a real Velero server (`velero server` of
// Velero v1.18.3) out of cluster against an API server, as Velero documents
// for local development: its CRDs from `velero install --crds-only`, its
// namespace, a stand-in Deployment named velero (Velero reads its own image
// from it when it restores), a BackupStorageLocation on an S3 bucket served
// through the real velero-plugin-for-aws in the server's plugin directory,
// and no node agent. Everything listens on loopback.
//
// The package drives Velero only as a user's kubectl would: through its
// custom resources (Backup, Restore, DeleteBackupRequest) with a dynamic
// client. It links neither Velero's nor rigging's plugin protocol code, so
// both the tests and the bench command (which links rigging) can use it.
package veleroserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Version is the Velero release this package runs; VeleroCommand is its
// command's package (built from this module, which requires that release).
const (
	Version       = "v1.18.3"
	VeleroCommand = "github.com/vmware-tanzu/velero/cmd/velero"
)

// LocationName is the name of the BackupStorageLocation Start creates (the
// default location).
const LocationName = "default"

// The resources of Velero's API the package uses.
var (
	BackupsGVR       = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backups"}
	RestoresGVR      = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "restores"}
	LocationsGVR     = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "backupstoragelocations"}
	DeleteRequestGVR = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "deletebackuprequests"}
	crdsGVR          = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deploymentsGVR   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	namespacesGVR    = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// ErrNotAvailable reports that the server never found its
// BackupStorageLocation Available within Config.StartTimeout.
var ErrNotAvailable = errors.New("veleroserver: the BackupStorageLocation did not become Available")

// S3 is the bucket the BackupStorageLocation points at.
type S3 struct {
	Endpoint, Region, AccessKey, SecretKey, Bucket string
}

// Client returns a path-style client of the bucket's S3 server.
func (b S3) Client() *s3.Client {
	return s3.New(s3.Options{Region: b.Region, BaseEndpoint: aws.String(b.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(b.AccessKey, b.SecretKey, "")})
}

// CreateBucket creates the bucket.
func (b S3) CreateBucket(ctx context.Context) error {
	if _, err := b.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.Bucket)}); err != nil {
		return fmt.Errorf("veleroserver: create bucket %s: %w", b.Bucket, err)
	}
	return nil
}

// RemoveBucket removes every object of the bucket, then the bucket.
func (b S3) RemoveBucket(ctx context.Context) error {
	c := b.Client()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("veleroserver: list bucket %s: %w", b.Bucket, err)
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Bucket), Key: o.Key}); err != nil {
				return fmt.Errorf("veleroserver: delete %s of bucket %s: %w", *o.Key, b.Bucket, err)
			}
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.Bucket)}); err != nil {
		return fmt.Errorf("veleroserver: delete bucket %s: %w", b.Bucket, err)
	}
	return nil
}

// S3FromEnv returns the S3 server .ci/s3.sh exports ($RIGGING_S3_*) with
// bucket, and whether $RIGGING_S3_ENDPOINT is set.
func S3FromEnv(bucket string) (S3, bool) {
	b := S3{Endpoint: os.Getenv("RIGGING_S3_ENDPOINT"), Region: os.Getenv("RIGGING_S3_REGION"),
		AccessKey: os.Getenv("RIGGING_S3_ACCESS_KEY"), SecretKey: os.Getenv("RIGGING_S3_SECRET_KEY"), Bucket: bucket}
	return b, b.Endpoint != ""
}

// Config says how Start runs the server.
type Config struct {
	// Velero and AWSPlugin are the velero binary and the
	// velero-plugin-for-aws binary (copied into the server's plugin
	// directory). Required.
	Velero, AWSPlugin string
	// Kubeconfig is the server's kubeconfig file and REST the same
	// cluster's client configuration, for the package's own requests.
	Kubeconfig string
	REST       *rest.Config
	// Namespace is Velero's namespace. Default "velero".
	Namespace string
	// S3 is the bucket of the location (created by the caller).
	S3 S3
	// ClientQPS and ClientBurst are the server's --client-qps and
	// --client-burst. Zero keeps Velero v1.18.3's defaults (100
	// and 100: defaultClientQPS and defaultClientBurst in its
	// pkg/cmd/server/config/config.go).
	ClientQPS   float32
	ClientBurst int
	// SyncPeriod is --backup-sync-period. Default 5s.
	SyncPeriod time.Duration
	// StartTimeout bounds the wait for the location to become Available.
	// Default 60s.
	StartTimeout time.Duration
}

// Server is a running `velero server` and its files.
type Server struct {
	cfg      Config
	dir      string
	cmd      *exec.Cmd
	logFile  *os.File
	done     chan struct{}
	waitErr  error
	dyn      dynamic.Interface
	location string
	creds    string
	stopOnce sync.Once
	stopErr  error
}

// Start installs Velero's CRDs, namespace, stand-in Deployment and
// BackupStorageLocation (what exists already is kept, but for the
// location's spec, which is set anew), starts `velero
// server` in a process group of its own and waits until the location is
// Available. On error nothing is left running and no file is left behind;
// the error carries the end of the server's log.
func Start(ctx context.Context, cfg Config) (s *Server, err error) {
	if cfg.Velero == "" || cfg.AWSPlugin == "" || cfg.Kubeconfig == "" || cfg.REST == nil {
		return nil, errors.New("veleroserver: Config needs Velero, AWSPlugin, Kubeconfig and REST")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "velero"
	}
	if cfg.SyncPeriod == 0 {
		cfg.SyncPeriod = 5 * time.Second
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	dir, err := os.MkdirTemp("", "rigging-veleroserver-")
	if err != nil {
		return nil, fmt.Errorf("veleroserver: %w", err)
	}
	s = &Server{cfg: cfg, dir: dir, done: make(chan struct{})}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	if s.dyn, err = dynamic.NewForConfig(cfg.REST); err != nil {
		return s, fmt.Errorf("veleroserver: %w", err)
	}
	if err := s.writeFiles(); err != nil {
		return s, err
	}
	if err := s.install(ctx); err != nil {
		return s, err
	}
	if err := s.startProcess(); err != nil {
		return s, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	err = s.Wait(wctx, LocationsGVR, LocationName, func(o *unstructured.Unstructured) (bool, error) {
		return Phase(o) == "Available", nil
	})
	if err != nil {
		return s, fmt.Errorf("%w: %w\n%s", ErrNotAvailable, err, s.LogTail(40))
	}
	return s, nil
}

// Namespace returns Velero's namespace.
func (s *Server) Namespace() string { return s.cfg.Namespace }

// LocationFile returns the path of a YAML file holding the
// BackupStorageLocation the server uses (for `rigging --location`).
func (s *Server) LocationFile() string { return s.location }

// CredentialsFile returns the path of the AWS shared credentials file the
// location names (credentialsFile) and the server has in its environment.
func (s *Server) CredentialsFile() string { return s.creds }

// PID returns the server's process id, which is also its process group id
// (the plugin processes it starts are in that group).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Resource returns the client of resource gvr in Velero's namespace.
func (s *Server) Resource(gvr schema.GroupVersionResource) dynamic.ResourceInterface {
	return s.dyn.Resource(gvr).Namespace(s.cfg.Namespace)
}

// Dynamic returns the package's dynamic client of the cluster.
func (s *Server) Dynamic() dynamic.Interface { return s.dyn }

func (s *Server) locationObject() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1",
		"kind":       "BackupStorageLocation",
		"metadata":   map[string]any{"name": LocationName, "namespace": s.cfg.Namespace},
		"spec": map[string]any{
			"provider":      "aws",
			"default":       true,
			"objectStorage": map[string]any{"bucket": s.cfg.S3.Bucket},
			"config": map[string]any{
				"region":           s.cfg.S3.Region,
				"s3Url":            s.cfg.S3.Endpoint,
				"s3ForcePathStyle": "true",
				"credentialsFile":  s.creds,
			},
		},
	}}
}

// writeFiles writes the credentials file, the location file and the
// plugin directory (a copy of the AWS plugin, as an operator installs it).
func (s *Server) writeFiles() error {
	s.creds = filepath.Join(s.dir, "credentials")
	c := fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", s.cfg.S3.AccessKey, s.cfg.S3.SecretKey)
	if err := os.WriteFile(s.creds, []byte(c), 0o600); err != nil {
		return fmt.Errorf("veleroserver: credentials file: %w", err)
	}
	b, err := json.Marshal(s.locationObject().Object)
	if err != nil {
		return fmt.Errorf("veleroserver: location file: %w", err)
	}
	s.location = filepath.Join(s.dir, "bsl.json")
	if err := os.WriteFile(s.location, b, 0o600); err != nil {
		return fmt.Errorf("veleroserver: location file: %w", err)
	}
	plugins := filepath.Join(s.dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		return fmt.Errorf("veleroserver: plugin dir: %w", err)
	}
	data, err := os.ReadFile(s.cfg.AWSPlugin)
	if err != nil {
		return fmt.Errorf("veleroserver: plugin: %w", err)
	}
	if err := os.WriteFile(filepath.Join(plugins, filepath.Base(s.cfg.AWSPlugin)), data, 0o755); err != nil {
		return fmt.Errorf("veleroserver: plugin: %w", err)
	}
	return os.Mkdir(filepath.Join(s.dir, "home"), 0o700)
}

// env is the server's environment: the caller's, with HOME in the
// server's directory (Velero's client config is read from it) and the
// AWS credentials file.
func (s *Server) env() []string {
	return append(os.Environ(), "HOME="+filepath.Join(s.dir, "home"), "AWS_SHARED_CREDENTIALS_FILE="+s.creds)
}

// install creates the CRDs (waiting until they are established), the
// namespace, the stand-in Deployment and the location.
func (s *Server) install(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, s.cfg.Velero, "install", "--crds-only", "--dry-run", "-o", "json")
	cmd.Env = s.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("veleroserver: velero install --crds-only --dry-run: %w\n%s", err, stderr.String())
	}
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(out); err != nil {
		return fmt.Errorf("veleroserver: the CRDs velero install prints: %w", err)
	}
	var names []string
	for i := range list.Items {
		crd := &list.Items[i]
		if crd.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := create(ctx, s.dyn.Resource(crdsGVR), crd); err != nil {
			return fmt.Errorf("veleroserver: CRD %s: %w", crd.GetName(), err)
		}
		names = append(names, crd.GetName())
	}
	if len(names) == 0 {
		return errors.New("veleroserver: velero install --crds-only printed no CRD")
	}
	for _, n := range names {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := waitFor(wctx, s.dyn.Resource(crdsGVR), n, func(o *unstructured.Unstructured) (bool, error) {
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("veleroserver: CRD %s not established: %w", n, err)
		}
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": s.cfg.Namespace}}}
	if err := create(ctx, s.dyn.Resource(namespacesGVR), ns); err != nil {
		return fmt.Errorf("veleroserver: namespace %s: %w", s.cfg.Namespace, err)
	}
	if err := create(ctx, s.Resource(deploymentsGVR), s.standIn()); err != nil {
		return fmt.Errorf("veleroserver: stand-in Deployment: %w", err)
	}
	// A location left by an earlier server names that server's
	// credentials file: its spec is replaced.
	loc := s.locationObject()
	ri := s.Resource(LocationsGVR)
	if _, err := ri.Create(ctx, loc, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, gerr := ri.Get(ctx, LocationName, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("veleroserver: BackupStorageLocation: %w", gerr)
		}
		old.Object["spec"] = loc.Object["spec"]
		_, err = ri.Update(ctx, old, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("veleroserver: BackupStorageLocation: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("veleroserver: BackupStorageLocation: %w", err)
	}
	return nil
}

// standIn is the Deployment named velero Velero's restore reads its own
// image from; nothing runs it (the server runs out of cluster).
func (s *Server) standIn() *unstructured.Unstructured {
	labels := map[string]any{"component": "velero", "deploy": "velero"}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "velero", "namespace": s.cfg.Namespace, "labels": labels},
		"spec": map[string]any{
			"replicas": int64(0),
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name":    "velero",
					"image":   "velero/velero:" + Version,
					"command": []any{"/velero"},
					"args":    []any{"server"},
				}}},
			},
		},
	}}
}

// create creates obj, keeping an object of that name that exists already.
func create(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) error {
	_, err := ri.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// freePort returns a loopback address nothing listens on now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (s *Server) startProcess() error {
	metrics, err := freePort()
	if err != nil {
		return fmt.Errorf("veleroserver: metrics port: %w", err)
	}
	profiler, err := freePort()
	if err != nil {
		return fmt.Errorf("veleroserver: profiler port: %w", err)
	}
	args := []string{"server",
		"--kubeconfig", s.cfg.Kubeconfig,
		"--namespace", s.cfg.Namespace,
		"--plugin-dir", filepath.Join(s.dir, "plugins"),
		"--metrics-address", metrics,
		"--profiler-address", profiler,
		"--backup-sync-period", s.cfg.SyncPeriod.String(),
		"--log-level", "info",
	}
	if s.cfg.ClientQPS > 0 {
		args = append(args, "--client-qps", strconv.FormatFloat(float64(s.cfg.ClientQPS), 'f', -1, 32))
	}
	if s.cfg.ClientBurst > 0 {
		args = append(args, "--client-burst", strconv.Itoa(s.cfg.ClientBurst))
	}
	s.logFile, err = os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return fmt.Errorf("veleroserver: %w", err)
	}
	s.cmd = exec.Command(s.cfg.Velero, args...)
	s.cmd.Dir = s.dir
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	// Its own process group (its plugin processes join it), and killed
	// if the test process dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("veleroserver: start %s server: %w", s.cfg.Velero, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	return nil
}

// Exited is closed when the server process has exited.
func (s *Server) Exited() <-chan struct{} { return s.done }

// Stop stops the server's process group (SIGTERM, then SIGKILL after 10s)
// and removes its files. It may be called more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.cmd != nil {
			pgid := s.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-s.done
			}
			// The plugin processes of the group outlive the server
			// briefly at most: kill what is left.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if s.logFile != nil {
			s.logFile.Close()
		}
		s.stopErr = os.RemoveAll(s.dir)
	})
	return s.stopErr
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "velero server log (last lines):\n" + strings.Join(lines, "\n")
}

// Phase returns status.phase of a Velero object.
func Phase(o *unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(o.Object, "status", "phase")
	return p
}

// Wait waits until the object name of gvr in Velero's namespace satisfies
// cond (watching it), ctx ends, or the server exits.
func (s *Server) Wait(ctx context.Context, gvr schema.GroupVersionResource, name string, cond func(*unstructured.Unstructured) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := waitFor(ctx, s.Resource(gvr), name, cond)
	select {
	case <-s.done:
		return fmt.Errorf("veleroserver: the server exited (%v) while waiting for %s %s\n%s", s.waitErr, gvr.Resource, name, s.LogTail(40))
	default:
	}
	return err
}

// WaitGone waits until the object name of gvr in Velero's namespace does
// not exist.
func (s *Server) WaitGone(ctx context.Context, gvr schema.GroupVersionResource, name string) error {
	ri := s.Resource(gvr)
	lw := listWatch(ri, name)
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, func(store cache.Store) (bool, error) {
		return len(store.List()) == 0, nil
	}, func(ev watch.Event) (bool, error) { return ev.Type == watch.Deleted, nil })
	if err != nil {
		return fmt.Errorf("veleroserver: %s %s still exists: %w", gvr.Resource, name, err)
	}
	return nil
}

func listWatch(ri dynamic.ResourceInterface, name string) *cache.ListWatch {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}
}

// waitFor waits until object name of ri exists and satisfies cond.
func waitFor(ctx context.Context, ri dynamic.ResourceInterface, name string, cond func(*unstructured.Unstructured) (bool, error)) error {
	check := func(o runtime.Object) (bool, error) {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return false, nil
		}
		return cond(u)
	}
	_, err := watchtools.UntilWithSync(ctx, listWatch(ri, name), &unstructured.Unstructured{}, func(store cache.Store) (bool, error) {
		for _, o := range store.List() {
			if ok, err := check(o.(runtime.Object)); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, nil
		}
		return check(ev.Object)
	})
	if err != nil {
		last, gerr := ri.Get(context.Background(), name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("%s: %w (last state: %w)", name, err, gerr)
		}
		st, _ := json.Marshal(last.Object["status"])
		return fmt.Errorf("%s: %w (last status: %s)", name, err, st)
	}
	return nil
}

// RSS returns the resident set size, in bytes, of the server and the
// plugin processes it started, together (TreeRSS).
func (s *Server) RSS() int64 { return TreeRSS(s.cmd.Process.Pid) }

// TreeRSS returns the summed resident set size, in bytes, of process pid
// and all its live descendants, read from /proc (0 where there is no
// /proc). Velero's plugin processes are children of its server; rigging's
// are children of the rigging process in process groups of their own.
func TreeRSS(pid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type proc struct{ ppid, rss int64 }
	procs := map[int64]proc{}
	for _, e := range ents {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the parenthesised command name: state ppid pgrp ...; rss
		// is the 22nd field from there (field 24 of the line).
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 22 {
			continue
		}
		ppid, _ := strconv.ParseInt(f[1], 10, 64)
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		procs[id] = proc{ppid, rss}
	}
	in := map[int64]bool{int64(pid): true}
	// Descendants: repeat until no process joins (parents may have larger
	// ids than their children after pid wrap-around).
	for changed := true; changed; {
		changed = false
		for id, p := range procs {
			if !in[id] && in[p.ppid] {
				in[id], changed = true, true
			}
		}
	}
	var sum int64
	for id := range in {
		sum += procs[id].rss
	}
	return sum * int64(os.Getpagesize())
}

// Peak samples TreeRSS of a process every interval until Stop and keeps
// the largest sum seen.
type Peak struct {
	stop chan struct{}
	done chan int64
}

// SamplePeak starts sampling process pid's tree every interval.
func SamplePeak(pid int, interval time.Duration) *Peak {
	p := &Peak{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		peak := TreeRSS(pid)
		for {
			select {
			case <-p.stop:
				p.done <- max(peak, TreeRSS(pid))
				return
			case <-t.C:
				peak = max(peak, TreeRSS(pid))
			}
		}
	}()
	return p
}

// Stop ends the sampling and returns the peak, in bytes.
func (p *Peak) Stop() int64 {
	close(p.stop)
	return <-p.done
}
