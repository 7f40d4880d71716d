// Command rigging is the rigging binary with every built-in plugin. A
// distribution builder copies this file and edits the imports: the command
// tree lives in package cli, the plugins in the packages blank-imported here
// (builtin/all is the default set; import single builtin/... and providers/...
// packages instead, or build with the rigging_no_* tags, to drop some).
package main

import (
	"os"

	_ "github.com/rigging-dev/rigging/builtin/all"
	"github.com/rigging-dev/rigging/cmd/rigging/cli"
)

func main() { os.Exit(cli.Main()) }
