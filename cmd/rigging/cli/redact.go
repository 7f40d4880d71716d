package cli

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/location"
	"github.com/rigging-dev/rigging/registry"
)

// secretKeys returns the config keys the built-in plugin of kind and name
// declares secret (rigging.SecretConfig), asking a fresh instance that is
// closed at once. An external plugin cannot declare any over the wire, so a
// name that is not built in, or a built-in that is not a SecretConfig, gives
// nil: the default rule (rigging.IsSecretKey) still applies to it. The
// built-in is asked even when an external plugin of the same name shadows
// it, as the two read the same config and redaction only ever widens.
func secretKeys(kind rigging.Kind, name string) []string {
	n, err := rigging.ParseName(name)
	if err != nil {
		return nil
	}
	e, ok := registry.Default.Lookup(kind, n)
	if !ok {
		return nil
	}
	var v any
	func() {
		defer func() { _ = recover() }() // a factory that panics declares nothing
		v, err = e.New(slog.New(slog.DiscardHandler))
	}()
	if err != nil || v == nil {
		return nil
	}
	keys := rigging.SecretKeysOf(v)
	if c, ok := v.(rigging.Closer); ok {
		_ = c.Close()
	}
	return keys
}

// redactedLocation is a location as the CLI shows it: its config redacted
// with the provider's secret keys, its CA bundle reduced to its size.
type redactedLocation struct {
	Name        string            `json:"name"`
	Provider    string            `json:"provider"`
	Bucket      string            `json:"bucket"`
	Prefix      string            `json:"prefix,omitempty"`
	CACertBytes int               `json:"caCertBytes,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
}

func redactLocation(l location.Location) redactedLocation {
	return redactedLocation{
		Name: l.Name, Provider: l.Provider, Bucket: l.Bucket, Prefix: l.Prefix,
		CACertBytes: len(l.CACert),
		Config:      rigging.RedactConfig(l.Config, secretKeys(rigging.KindObjectStore, l.Provider)...),
	}
}

// configAttr is cfg, redacted, as one log attribute with its keys sorted.
func configAttr(cfg map[string]string, secret ...string) slog.Attr {
	red := rigging.RedactConfig(cfg, secret...)
	attrs := make([]any, 0, len(red))
	for _, k := range slices.Sorted(maps.Keys(red)) {
		attrs = append(attrs, slog.String(k, red[k]))
	}
	return slog.Group("config", attrs...)
}

// parseConfigFlag parses the value s of a --config flag (k=v,k2=v2) for the
// plugin of kind and name, as location.ParseConfig does. Its errors quote s
// whole, and the CLI prints errors, so the quoted flag is replaced by one
// whose secret values (rigging.IsSecretKey, or the plugin's secretKeys) are
// redacted. The error is a usage error naming the flag.
func parseConfigFlag(s string, kind rigging.Kind, name string) (map[string]string, error) {
	cfg, err := location.ParseConfig(s)
	if err == nil {
		return cfg, nil
	}
	red := redactConfigFlag(s, secretKeys(kind, name)...)
	msg := strings.ReplaceAll(err.Error(), strconv.Quote(s), strconv.Quote(red))
	return nil, &usageError{err: errors.New("--config: " + msg)}
}

// redactConfigFlag redacts the values of secret keys in a k=v,k2=v2 string,
// keeping its pairs as they are otherwise.
func redactConfigFlag(s string, secret ...string) string {
	pairs := strings.Split(s, ",")
	for i, pair := range pairs {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		red := rigging.RedactConfig(map[string]string{strings.TrimSpace(k): strings.TrimSpace(v)}, secret...)
		if r := red[strings.TrimSpace(k)]; r != strings.TrimSpace(v) {
			pairs[i] = k + "=" + r
		}
	}
	return strings.Join(pairs, ",")
}
