// Command testplugin serves the test plugins of package testplugin.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rigging-dev/rigging/external/internal/testplugin"
	"github.com/rigging-dev/rigging/external/plugin"
	"github.com/rigging-dev/rigging/registry"
)

// noMTLSEnv=1 in its environment makes the binary behave as a go-plugin
// server without AutoMTLS support: it ignores the host's client certificate
// and serves plaintext.
const noMTLSEnv = "RIGGING_TESTPLUGIN_NO_MTLS"

// lingerEnv=1 makes the binary keep running after its server has shut down
// (a plugin that does not exit when asked to stop).
const lingerEnv = "RIGGING_TESTPLUGIN_LINGER"

// childEnv=FILE makes the binary first start a copy of itself that ignores
// SIGTERM, shares its stdout and stderr and sleeps for an hour (a helper a
// plugin forks and forgets), and write the copy's PID to FILE.
const childEnv = "RIGGING_TESTPLUGIN_CHILD"

// hangEnv=1 makes the binary never answer the handshake (after starting
// the child of childEnv, if asked to).
const hangEnv = "RIGGING_TESTPLUGIN_HANG"

// roleEnv marks the copy started for childEnv.
const roleEnv = "RIGGING_TESTPLUGIN_ROLE"

func main() {
	if os.Getenv(roleEnv) == "child" {
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		return
	}
	if file := os.Getenv(childEnv); file != "" {
		if err := startChild(file); err != nil {
			fmt.Fprintln(os.Stderr, "testplugin:", err)
			os.Exit(1)
		}
	}
	if os.Getenv(hangEnv) == "1" {
		time.Sleep(time.Hour)
	}
	if os.Getenv(noMTLSEnv) == "1" {
		os.Unsetenv("PLUGIN_CLIENT_CERT")
	}
	r := registry.New()
	testplugin.Register(r)
	plugin.Serve(plugin.ServeOptions{Registry: r})
	if os.Getenv(lingerEnv) == "1" {
		time.Sleep(time.Hour)
	}
}

func startChild(file string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), roleEnv+"=child")
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start child: %w", err)
	}
	// Written whole, then renamed: a reader never sees part of it.
	if err := os.WriteFile(file+".tmp", []byte(strconv.Itoa(child.Process.Pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(file+".tmp", file)
}
