// Command testcluster runs the tests' API server (kube-apiserver and etcd,
// internal/testcluster) around a command, for demos and manual tries:
//
//	testcluster [-seed PATH]... -- COMMAND [ARG...]
//
// starts the API server on loopback (the binaries of
// $RIGGING_TESTCLUSTER_BIN, else bin/testcluster), seeds it with the
// manifests of each -seed, runs COMMAND with KUBECONFIG set to the admin's
// kubeconfig, then stops the API server and exits with COMMAND's status.
// COMMAND runs in a process group of its own; SIGINT or SIGTERM stops that
// group, then the API server.
//
//	testcluster list NAMESPACE
//
// prints the objects of NAMESPACE in the cluster of $KUBECONFIG, one line
// each (resource, name, the velero.io restore labels): kubectl get for a
// machine without kubectl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/cluster"
	"github.com/rigging-dev/rigging/internal/testcluster"
)

type seeds []string

func (s *seeds) String() string     { return fmt.Sprint(*s) }
func (s *seeds) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "list" {
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: testcluster list NAMESPACE")
			os.Exit(2)
		}
		if err := list(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "testcluster:", err)
			os.Exit(1)
		}
		return
	}
	var seed seeds
	flag.Var(&seed, "seed", "manifests to create in the cluster once it runs (repeatable; relative to the repository root)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: testcluster [-seed PATH]... -- COMMAND [ARG...]\n       testcluster list NAMESPACE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(seed, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run starts the cluster, runs args, stops the cluster.
func run(seed []string, args []string) (code int, err error) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()

	fmt.Fprintln(os.Stderr, "testcluster: starting kube-apiserver and etcd from", testcluster.BinDir())
	c, err := testcluster.Start(ctx, testcluster.Config{})
	if err != nil {
		return 1, err
	}
	defer func() {
		if serr := c.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		fmt.Fprintln(os.Stderr, "testcluster: stopped")
	}()
	if len(seed) > 0 {
		if err := c.SeedFiles(ctx, seed...); err != nil {
			return 1, err
		}
	}
	fmt.Fprintf(os.Stderr, "testcluster: API server at %s, kubeconfig %s\n", c.Config().Host, c.Kubeconfig())

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start %s: %w", args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		// Stop the command's whole process group, then wait for it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		werr = <-done
		return 130, errors.New("interrupted")
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		return ee.ExitCode(), nil
	}
	if werr != nil {
		return 1, werr
	}
	return 0, nil
}

// list prints the objects of namespace ns.
func list(ns string) error {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return err
	}
	cfg.WarningHandler = rest.NoWarnings{} // deprecated APIs (v1 Endpoints)
	l, err := cluster.NewLookup(cfg, cluster.LookupOptions{})
	if err != nil {
		return err
	}
	objs, _, err := l.Collect(context.Background(), cluster.CollectOptions{Namespaces: []string{ns}})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tBACKUP\tRESTORE")
	for _, o := range objs {
		if o.GetNamespace() != ns {
			continue
		}
		lb := o.GetLabels()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.GetKind(), o.GetName(), lb[rigging.LabelBackupName], lb[rigging.LabelRestoreName])
	}
	return tw.Flush()
}
