// Package all blank-imports every plugin package that ships with rigging:
// the built-in item actions under builtin/ and the object stores under
// providers/. The rigging binary imports it; so does any host that wants the
// default set:
//
//	import _ "github.com/rigging-dev/rigging/builtin/all"
//
// Each import sits in its own file behind a build tag, so a distribution
// builder can drop a package from the binary without editing code:
//
//	go build -tags rigging_no_csi,rigging_no_aws ./cmd/rigging
//
// The tags are rigging_no_<package> for each builtin/<package> and
// providers/<package>: rigging_no_csi drops the nine CSI actions and the
// external-snapshotter client, rigging_no_aws the velero.io/aws ObjectStore
// and VolumeSnapshotter with the AWS SDK, rigging_no_filesystem the local
// filesystem store. (The rigging command itself imports the filesystem
// store for its default location and data directory, so its binary keeps
// that one store whatever the tags.) To build from an explicit list instead,
// copy cmd/rigging/main.go and import the wanted packages in place of this
// one.
package all
