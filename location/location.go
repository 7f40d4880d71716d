// Package location describes where backups are stored: what a Velero
// BackupStorageLocation says (an ObjectStore provider, a bucket, an optional
// prefix inside it, and the provider's config), and opens the ObjectStore it
// names through a manager.Manager, initialised exactly as Velero initialises
// it.
//
// Credentials: a BackupStorageLocation's spec.credential and
// spec.objectStorage.caCertRef name Kubernetes Secrets, which rigging does not
// read (it runs without a cluster). Give the credentials as a file instead,
// through the provider's config key credentialsFile (Velero passes the
// Secret's content to plugins as exactly that file), and the CA bundle inline
// in spec.objectStorage.caCert. FromFile reports the Secret references it
// skipped in Location.Warnings.
package location

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
)

// Defaults of the embedded location (Default).
const (
	DefaultName     = "default"
	DefaultProvider = "rigging.dev/filesystem"
	DefaultBucket   = "rigging"
)

// The apiVersion and kind FromFile accepts.
const (
	APIVersion = "velero.io/v1"
	Kind       = "BackupStorageLocation"
)

// ErrInvalid marks a location that cannot be used: a missing provider or
// bucket, a bucket with a "/", a config key the location sets itself.
var ErrInvalid = errors.New("invalid storage location")

// Location is a storage location: an ObjectStore plugin and where in it the
// backups live. The zero Location is invalid; build one with Default,
// FromFile, or a literal followed by Validate.
type Location struct {
	// Name is the BackupStorageLocation's metadata.name; DefaultName when the
	// location comes from flags.
	Name string
	// Provider is the ObjectStore plugin's name as given ("aws",
	// "velero.io/aws", "rigging.dev/filesystem").
	Provider string
	// Bucket is the bucket, without leading or trailing "/"; it never
	// contains "/".
	Bucket string
	// Prefix is the folder inside the bucket that holds Velero's layout,
	// without leading or trailing "/"; empty for the bucket's root.
	Prefix string
	// CACert is the PEM bundle of spec.objectStorage.caCert (decoded from the
	// base64 the YAML holds); passed to Init as "caCert" when non-empty.
	CACert string
	// Config is the provider's configuration (spec.config). It must not hold
	// the keys the location sets itself ("bucket", "prefix", "caCert").
	Config map[string]string
	// Warnings lists what FromFile read but cannot honour (Secret
	// references), for the caller to log.
	Warnings []string
}

// Default returns the embedded default location: the filesystem store
// (rigging.dev/filesystem), bucket "rigging", no prefix. The filesystem
// store keeps its buckets under its data directory ($RIGGING_HOME, else
// $XDG_DATA_HOME/rigging, else ~/.local/share/rigging), so the backups of the
// default location live in <data dir>/rigging/.
func Default() Location {
	return Location{Name: DefaultName, Provider: DefaultProvider, Bucket: DefaultBucket, Config: map[string]string{}}
}

// reservedKeys are the Init config keys the location itself sets.
var reservedKeys = []string{"bucket", "prefix", "caCert"}

// Validate reports whether l can be opened. The error wraps ErrInvalid and
// names the field.
func (l Location) Validate() error {
	switch {
	case l.Provider == "":
		return fmt.Errorf("%w: provider is empty", ErrInvalid)
	case l.Bucket == "":
		return fmt.Errorf("%w: bucket is empty", ErrInvalid)
	case strings.Contains(l.Bucket, "/"):
		return fmt.Errorf("%w: bucket %q must not contain a '/' (put the path inside the bucket in the prefix)", ErrInvalid, l.Bucket)
	case strings.HasPrefix(l.Prefix, "/") || strings.HasSuffix(l.Prefix, "/"):
		return fmt.Errorf("%w: prefix %q must not start or end with '/'", ErrInvalid, l.Prefix)
	}
	if _, err := rigging.ParseName(l.Provider); err != nil {
		return fmt.Errorf("%w: provider: %w", ErrInvalid, err)
	}
	for _, k := range reservedKeys {
		if _, ok := l.Config[k]; ok {
			return fmt.Errorf("%w: config key %q is set from the location's %s, not from config", ErrInvalid, k, k)
		}
	}
	return nil
}

// InitConfig returns the config ObjectStore.Init receives, as Velero builds
// it: a copy of Config plus "bucket" and "prefix", and "caCert" when CACert
// is set.
func (l Location) InitConfig() map[string]string {
	cfg := make(map[string]string, len(l.Config)+3)
	maps.Copy(cfg, l.Config)
	cfg["bucket"] = l.Bucket
	cfg["prefix"] = l.Prefix
	if l.CACert != "" {
		cfg["caCert"] = l.CACert
	}
	return cfg
}

// Open validates l, gets a new instance of its ObjectStore from m and calls
// Init with InitConfig. The store belongs to m: Manager.Close releases it.
func Open(ctx context.Context, m *manager.Manager, l Location) (rigging.ObjectStore, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("location %s: %w", l.Name, err)
	}
	store, err := m.ObjectStore(ctx, l.Provider)
	if err != nil {
		return nil, fmt.Errorf("location %s: %w", l.Name, err)
	}
	// The Manager's middleware names the plugin and the method.
	if err := store.Init(ctx, l.InitConfig()); err != nil {
		return nil, fmt.Errorf("location %s: %w", l.Name, err)
	}
	return store, nil
}

// Key returns the object key of a path inside the location: the parts joined
// with "/" under the prefix. Key("backups", "b1", "velero-backup.json") is
// "backups/b1/velero-backup.json" without a prefix and
// "<prefix>/backups/b1/velero-backup.json" with one. Empty parts are
// skipped; a trailing "/" on the last part is kept, so Key("backups/") is a
// listing prefix. Key() is the location's root: "<prefix>/", or "" without a
// prefix.
func (l Location) Key(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	for i := range kept {
		if i > 0 {
			kept[i] = strings.TrimLeft(kept[i], "/")
		}
		if i < len(kept)-1 {
			kept[i] = strings.TrimRight(kept[i], "/")
		}
	}
	rel := strings.Join(kept, "/")
	if l.Prefix == "" {
		return rel
	}
	return l.Prefix + "/" + rel
}

// Rel is the inverse of Key: it strips the location's prefix from key. A key
// outside the prefix is returned unchanged.
func (l Location) Rel(key string) string {
	if l.Prefix == "" {
		return key
	}
	if rest, ok := strings.CutPrefix(key, l.Prefix+"/"); ok {
		return rest
	}
	return key
}

// String describes l for messages: `default (rigging.dev/filesystem bucket
// "rigging")`, with the prefix when there is one.
func (l Location) String() string {
	s := fmt.Sprintf("%s (%s bucket %q", l.Name, l.Provider, l.Bucket)
	if l.Prefix != "" {
		s += fmt.Sprintf(" prefix %q", l.Prefix)
	}
	return s + ")"
}

// ParseConfig parses "k=v,k2=v2" as Velero's --config flag does. Keys and
// values are trimmed of white space; a value may contain "=" but not ",". An
// empty string gives an empty map. A pair without "=", an empty key or a
// repeated key is an error.
func ParseConfig(s string) (map[string]string, error) {
	cfg := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return cfg, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return nil, fmt.Errorf("config %q: %q is not key=value", s, pair)
		case k == "":
			return nil, fmt.Errorf("config %q: empty key in %q", s, pair)
		}
		if _, dup := cfg[k]; dup {
			return nil, fmt.Errorf("config %q: key %q given twice", s, k)
		}
		cfg[k] = v
	}
	return cfg, nil
}

// bsl is the part of a velero.io/v1 BackupStorageLocation rigging reads.
type bsl struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Provider      string         `json:"provider"`
		Config        map[string]any `json:"config"`
		Credential    *secretKeyRef  `json:"credential"`
		Default       bool           `json:"default"`
		ObjectStorage *objectStorage `json:"objectStorage"`
	} `json:"spec"`
}

type objectStorage struct {
	Bucket    string        `json:"bucket"`
	Prefix    string        `json:"prefix"`
	CACert    []byte        `json:"caCert"`
	CACertRef *secretKeyRef `json:"caCertRef"`
}

type secretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// FromFile reads a velero.io/v1 BackupStorageLocation from a YAML or JSON
// file: spec.provider, spec.objectStorage.bucket, .prefix and .caCert, and
// spec.config. The file may hold other objects too (a Velero install
// manifest, say); it must hold exactly one BackupStorageLocation, or several
// of which exactly one has spec.default true. Secret references
// (spec.credential, spec.objectStorage.caCertRef) cannot be read without a
// cluster: they are listed in Warnings (see the package documentation).
// Errors name the file and the field.
func FromFile(path string) (Location, error) {
	return FromFileNamed(path, "")
}

// FromFileNamed is FromFile choosing the BackupStorageLocation by its
// metadata.name among those in the file; name "" means FromFile's choice.
func FromFileNamed(path, name string) (Location, error) {
	f, err := os.Open(path)
	if err != nil {
		return Location{}, err
	}
	defer f.Close()
	objs, err := manifest.Decode(f, path)
	if err != nil {
		return Location{}, err
	}
	var found []bsl
	var others []string
	for _, o := range objs {
		if o.GetKind() != Kind || o.GetAPIVersion() != APIVersion {
			others = append(others, o.GetAPIVersion()+" "+o.GetKind())
			continue
		}
		raw, err := json.Marshal(o.Object)
		if err != nil {
			return Location{}, fmt.Errorf("%s: %w", path, err)
		}
		var b bsl
		if err := json.Unmarshal(raw, &b); err != nil {
			return Location{}, fmt.Errorf("%s: %s %q: %w", path, Kind, o.GetName(), describeJSONError(err))
		}
		found = append(found, b)
	}
	if name != "" && len(found) > 0 {
		var names []string
		for _, x := range found {
			names = append(names, x.Metadata.Name)
		}
		found = slices.DeleteFunc(found, func(x bsl) bool { return x.Metadata.Name != name })
		if len(found) == 0 {
			return Location{}, fmt.Errorf("%s: no BackupStorageLocation named %q (it holds %s)", path, name, strings.Join(names, ", "))
		}
	}
	var b bsl
	switch {
	case len(found) == 1:
		b = found[0]
	case len(found) == 0 && len(others) == 0:
		return Location{}, fmt.Errorf("%s: no objects (want a %s %s)", path, APIVersion, Kind)
	case len(found) == 0:
		return Location{}, fmt.Errorf("%s: holds %s, not a %s %s", path, strings.Join(others, ", "), APIVersion, Kind)
	default:
		var names, defaults []string
		for _, x := range found {
			names = append(names, x.Metadata.Name)
			if x.Spec.Default {
				defaults = append(defaults, x.Metadata.Name)
				b = x
			}
		}
		if len(defaults) != 1 {
			return Location{}, fmt.Errorf("%s: holds %d BackupStorageLocations (%s) and %d with spec.default true; give a file with one", path, len(found), strings.Join(names, ", "), len(defaults))
		}
	}
	l, err := fromBSL(b)
	if err != nil {
		return Location{}, fmt.Errorf("%s: %s %q: %w", path, Kind, b.Metadata.Name, err)
	}
	return l, nil
}

func fromBSL(b bsl) (Location, error) {
	if b.Spec.Provider == "" {
		return Location{}, fmt.Errorf("%w: spec.provider is empty", ErrInvalid)
	}
	if b.Spec.ObjectStorage == nil {
		return Location{}, fmt.Errorf("%w: spec.objectStorage is missing", ErrInvalid)
	}
	st := b.Spec.ObjectStorage
	l := Location{
		Name:     b.Metadata.Name,
		Provider: b.Spec.Provider,
		Bucket:   strings.Trim(st.Bucket, "/"),
		Prefix:   strings.Trim(st.Prefix, "/"),
		CACert:   string(st.CACert),
		Config:   map[string]string{},
	}
	if l.Name == "" {
		l.Name = DefaultName
	}
	keys := slices.Sorted(maps.Keys(b.Spec.Config))
	for _, k := range keys {
		s, ok := b.Spec.Config[k].(string)
		if !ok {
			shown := fmt.Sprint(b.Spec.Config[k])
			if rigging.IsSecretKey(k) {
				shown = rigging.Redacted
			}
			return Location{}, fmt.Errorf("%w: spec.config.%s: value %s is a %s, not a string (quote it)", ErrInvalid, k, shown, jsonType(b.Spec.Config[k]))
		}
		l.Config[k] = s
	}
	if st.Bucket == "" {
		return Location{}, fmt.Errorf("%w: spec.objectStorage.bucket is empty", ErrInvalid)
	}
	if strings.Contains(l.Bucket, "/") {
		return Location{}, fmt.Errorf("%w: spec.objectStorage.bucket %q must not contain a '/' (put the path inside the bucket in spec.objectStorage.prefix)", ErrInvalid, st.Bucket)
	}
	if c := b.Spec.Credential; c != nil && l.Config["credentialsFile"] == "" {
		l.Warnings = append(l.Warnings, fmt.Sprintf("spec.credential names Secret %q key %q, which rigging cannot read; put the credentials in a file and set spec.config.credentialsFile (or --config credentialsFile=PATH)", c.Name, c.Key))
	}
	if c := st.CACertRef; c != nil && l.CACert == "" {
		l.Warnings = append(l.Warnings, fmt.Sprintf("spec.objectStorage.caCertRef names Secret %q key %q, which rigging cannot read; put the PEM bundle, base64-encoded, in spec.objectStorage.caCert", c.Name, c.Key))
	}
	if err := l.Validate(); err != nil {
		return Location{}, err
	}
	return l, nil
}

// describeJSONError names the BSL field a decoding error is about.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%w: %s: value is a JSON %s, want %s", ErrInvalid, te.Field, te.Value, te.Type)
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: spec.objectStorage.caCert: not valid base64: %w", ErrInvalid, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case nil:
		return "null"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
