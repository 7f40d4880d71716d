// Package filesystem is the embedded default object store,
// rigging.dev/filesystem: buckets are directories under a root directory and
// the object KEY of bucket B is the file <root>/B/KEY.
//
// Importing the package registers the store (registry.Register from init());
// New builds one without the registry.
//
// # Configuration (Init)
//
//   - root: the directory holding the buckets; default DataDir()
//     ($RIGGING_HOME, else $XDG_DATA_HOME/rigging, else
//     ~/.local/share/rigging). It is created (mode 0700) when missing, and a
//     relative path is made absolute at Init.
//   - bucket, prefix, caCert, credentialsFile: accepted and ignored. Velero
//     passes the first two with every location, and the others when the
//     location sets them (velero-protocol.md §2.3); the bucket of each call
//     comes in the call.
//
// Any other key is rejected, naming the key.
//
// # Semantics
//
// Writes are atomic: PutObject writes a temporary file in the key's
// directory, fsyncs it, renames it over the key and fsyncs the directory, so
// readers and List see the old object or the new one, never a part. Temporary
// files are named ".rigging-tmp-*"; List never shows them and keys whose last
// segment starts so are rejected. Two PutObject calls of the same key race
// safely: the last rename wins.
//
// Keys are confined to their bucket: a key must be relative, "/"-separated,
// valid UTF-8 (as S3 keys are), without empty, "." or ".." segments and
// without NUL, and every file access goes through an os.Root opened on the
// bucket directory, so a symbolic link cannot lead outside the bucket either
// (symbolic links that stay inside it are followed). Violations give an error matching ErrInvalidKey that names
// the key; an escaping symbolic link gives an error naming the key too.
//
// A bucket directory comes into existence with its first object; reading a
// missing bucket behaves as reading an empty one. Directories are created
// with mode 0700 and files with mode 0600, as backups hold secrets.
// DeleteObject removes the directories it leaves empty, up to the bucket.
//
// Because keys are files, a key cannot also be a prefix of another key
// ("a" and "a/b"); PutObject of the second fails with an error naming it.
// ListObjects and ListCommonPrefixes show regular files only and do not
// descend into symbolic links to directories. They skip files and
// directories whose names are not valid UTF-8 (which no key can name, so
// only a hand-made or foreign entry has one), logging each at debug level,
// so that one such name does not make the whole bucket unlistable.
//
// CreateSignedURL returns a file:// URL of the object's path. The TTL is
// ignored: a local file has no expiring access; whoever can read the file can
// follow the URL.
package filesystem
