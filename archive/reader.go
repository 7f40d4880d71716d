package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rigging-dev/rigging/internal/ujson"
)

// Limits bound what Read accepts. A zero field takes its default.
type Limits struct {
	// MaxEntrySize is the largest entry accepted (default 64 MiB; the API
	// server stores objects of at most about 1.5 MiB).
	MaxEntrySize int64
	// MaxTotalSize bounds the uncompressed tar stream (default 4 GiB): a
	// gzip bomb stops here.
	MaxTotalSize int64
	// MaxEntries bounds the number of entries (default 4 000 000).
	MaxEntries int
}

// DefaultLimits are the limits Read applies to zero fields.
var DefaultLimits = Limits{MaxEntrySize: 64 << 20, MaxTotalSize: 4 << 30, MaxEntries: 4_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultLimits.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	return l
}

// Item is one item of a backup tarball.
type Item struct {
	GroupResource schema.GroupResource
	Namespace     string // "" for a cluster-scoped item
	Name          string // the file name without ".json"
	// VersionDir is the version folder the bytes came from: "" for the
	// classic path (always preferred when present), else "v1-preferredversion"
	// or a bare version such as "v1beta1".
	VersionDir string
	Data       []byte
}

// Object decodes the item as the API machinery does (whole numbers as
// int64, which actions reading fields with unstructured.NestedInt64
// expect). The error names the item's path in the tarball.
func (it *Item) Object() (*unstructured.Unstructured, error) {
	m, err := ujson.Unmarshal(it.Data)
	if errors.Is(err, ujson.ErrNotObject) {
		return nil, fmt.Errorf("decode %s: not a JSON object", ItemPath(it.GroupResource.String(), it.VersionDir, it.Namespace, it.Name))
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", ItemPath(it.GroupResource.String(), it.VersionDir, it.Namespace, it.Name), err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Contents is a backup tarball read into memory: the items by group-resource,
// namespace and name. Velero's restore reads the classic copy of each item;
// Contents does the same, and falls back to a version folder for an item
// that has no classic copy (the preferred version first).
type Contents struct {
	// Version is metadata/version without its trailing newline ("" when the
	// tarball has none).
	Version string
	items   map[string]map[string]map[string]*Item // gr -> ns -> name
	// versions records the version folders seen per group-resource.
	versions map[string]map[string]bool
	n        int
}

// Resources returns the group-resources present, as "<plural>[.<group>]"
// strings, sorted.
func (c *Contents) Resources() []string { return sortedKeys(c.items) }

// Namespaces returns the namespaces of gr that hold items, sorted; "" stands
// for the cluster scope and sorts first.
func (c *Contents) Namespaces(gr string) []string { return sortedKeys(c.items[gr]) }

// Names returns the names of the items of gr in namespace, sorted (the order
// Velero's restore reads files in).
func (c *Contents) Names(gr, namespace string) []string {
	return sortedKeys(c.items[gr][namespace])
}

// Get returns one item, or nil.
func (c *Contents) Get(gr, namespace, name string) *Item { return c.items[gr][namespace][name] }

// Len returns the number of distinct items.
func (c *Contents) Len() int { return c.n }

// VersionDirs returns the version folders present under gr, sorted
// ("v1-preferredversion", "v1beta1").
func (c *Contents) VersionDirs(gr string) []string { return sortedKeys(c.versions[gr]) }

// All returns every item, by resource, namespace and name.
func (c *Contents) All() []*Item {
	out := make([]*Item, 0, c.n)
	for _, gr := range c.Resources() {
		for _, ns := range c.Namespaces(gr) {
			for _, name := range c.Names(gr, ns) {
				out = append(out, c.items[gr][ns][name])
			}
		}
	}
	return out
}

// Read reads a backup tarball (gzip'd tar) into memory, defensively: an entry
// with an absolute path or a ".." segment is refused (ErrUnsafePath), as is a
// symlink, hard link or device (ErrUnsupportedEntry); an entry larger than
// MaxEntrySize, more than MaxEntries entries, or more than MaxTotalSize bytes
// of tar stream (a gzip bomb) gives ErrTooLarge. It tolerates what Velero
// writes and tolerates: entries in any order, duplicates (the last wins),
// directory entries, version folders without a classic copy, and files
// outside resources/ (ignored).
func Read(r io.Reader, lim Limits) (*Contents, error) {
	lim = lim.withDefaults()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("read tarball: %w", err)
	}
	defer zr.Close()
	cr := &capReader{r: zr, left: lim.MaxTotalSize}
	tr := tar.NewReader(cr)
	c := &Contents{items: map[string]map[string]map[string]*Item{}, versions: map[string]map[string]bool{}}
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cr.exceeded {
				return nil, fmt.Errorf("read tarball: %w: more than %d bytes uncompressed", ErrTooLarge, lim.MaxTotalSize)
			}
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if entries >= lim.MaxEntries {
			return nil, fmt.Errorf("read tarball: %w: more than %d entries", ErrTooLarge, lim.MaxEntries)
		}
		name, err := cleanEntryName(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("read tarball: entry %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, tar.TypeGNUSparse:
		case tar.TypeXGlobalHeader:
			continue
		default:
			return nil, fmt.Errorf("read tarball: entry %q: %w (type %q)", hdr.Name, ErrUnsupportedEntry, hdr.Typeflag)
		}
		if hdr.Size > lim.MaxEntrySize {
			return nil, fmt.Errorf("read tarball: entry %q: %w: %d bytes, more than %d", hdr.Name, ErrTooLarge, hdr.Size, lim.MaxEntrySize)
		}
		if name == metadataDir+"/version" {
			data, err := readEntry(tr, cr, hdr, lim)
			if err != nil {
				return nil, err
			}
			c.Version = strings.TrimSpace(string(data))
			continue
		}
		gr, verDir, ns, itemName, ok := parseItemPath(name)
		if !ok {
			continue // not an item: Velero ignores it too
		}
		data, err := readEntry(tr, cr, hdr, lim)
		if err != nil {
			return nil, err
		}
		c.add(&Item{GroupResource: schema.ParseGroupResource(gr), Namespace: ns, Name: itemName, VersionDir: verDir, Data: data}, gr)
	}
	return c, nil
}

func readEntry(tr *tar.Reader, cr *capReader, hdr *tar.Header, lim Limits) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(hdr.Size))
	// The header's size is checked already; the copy is bounded again in
	// case of sparse entries whose real size differs.
	n, err := io.Copy(&buf, io.LimitReader(tr, lim.MaxEntrySize+1))
	if err != nil {
		if cr.exceeded {
			return nil, fmt.Errorf("read tarball: %w: more than %d bytes uncompressed", ErrTooLarge, lim.MaxTotalSize)
		}
		return nil, fmt.Errorf("read tarball: entry %q: %w", hdr.Name, err)
	}
	if n > lim.MaxEntrySize {
		return nil, fmt.Errorf("read tarball: entry %q: %w: more than %d bytes", hdr.Name, ErrTooLarge, lim.MaxEntrySize)
	}
	return buf.Bytes(), nil
}

// rank orders the sources of an item's bytes: classic beats the preferred
// version folder, which beats any other version folder.
func rank(verDir string) int {
	switch {
	case verDir == "":
		return 2
	case strings.HasSuffix(verDir, preferredVersionDir):
		return 1
	}
	return 0
}

func (c *Contents) add(it *Item, gr string) {
	if it.VersionDir != "" {
		if c.versions[gr] == nil {
			c.versions[gr] = map[string]bool{}
		}
		c.versions[gr][it.VersionDir] = true
	}
	byNS := c.items[gr]
	if byNS == nil {
		byNS = map[string]map[string]*Item{}
		c.items[gr] = byNS
	}
	byName := byNS[it.Namespace]
	if byName == nil {
		byName = map[string]*Item{}
		byNS[it.Namespace] = byName
	}
	old := byName[it.Name]
	if old == nil {
		c.n++
	} else if rank(old.VersionDir) > rank(it.VersionDir) {
		return
	}
	byName[it.Name] = it
}

// cleanEntryName refuses absolute names and names with ".." segments, and
// returns the name without a leading "./" or trailing "/".
func cleanEntryName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: empty name or NUL byte", ErrUnsafePath)
	}
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return "", fmt.Errorf("%w: absolute path", ErrUnsafePath)
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: '..' segment", ErrUnsafePath)
		}
	}
	return strings.TrimPrefix(path.Clean(n), "./"), nil
}

// parseItemPath splits resources/<gr>/[<ver>/]{cluster|namespaces/<ns>}/<name>.json.
func parseItemPath(p string) (gr, verDir, ns, name string, ok bool) {
	parts := strings.Split(p, "/")
	if len(parts) < 4 || parts[0] != resourcesDir || !strings.HasSuffix(parts[len(parts)-1], ".json") {
		return "", "", "", "", false
	}
	gr = parts[1]
	rest := parts[2:]
	if rest[0] != clusterScopedDir && rest[0] != namespaceScopedDir {
		verDir, rest = rest[0], rest[1:]
	}
	name = strings.TrimSuffix(rest[len(rest)-1], ".json")
	switch {
	case len(rest) == 2 && rest[0] == clusterScopedDir:
	case len(rest) == 3 && rest[0] == namespaceScopedDir:
		ns = rest[1]
	default:
		return "", "", "", "", false
	}
	if gr == "" || name == "" {
		return "", "", "", "", false
	}
	return gr, verDir, ns, name, true
}

// capReader fails once more than left bytes have been read.
type capReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errCapExceeded = errors.New("size limit exceeded")

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.exceeded = true
		return 0, errCapExceeded
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
