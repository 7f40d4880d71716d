// Command etcd is the upstream etcd server, built from the Go module proxy at
// the version testcluster/go.mod pins, for the live-cluster tests of rigging
// (internal/testcluster starts it). It dies with the process that started it
// (package diewithparent).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"

	"github.com/rigging-dev/rigging/testcluster/internal/diewithparent"
)

func main() {
	diewithparent.Arm()
	etcdmain.Main(os.Args)
}
