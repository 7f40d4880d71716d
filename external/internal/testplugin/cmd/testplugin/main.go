// Command testplugin serves the test plugins of package testplugin.
package main

import (
	"os"
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

func main() {
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
