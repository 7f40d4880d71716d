// Command kube-apiserver is the upstream Kubernetes API server, built from
// the Go module proxy at the version testcluster/go.mod pins, for the
// live-cluster tests of rigging (internal/testcluster starts it). It dies
// with the process that started it (package diewithparent).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"

	"github.com/rigging-dev/rigging/testcluster/internal/diewithparent"
)

func main() {
	diewithparent.Arm()
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
