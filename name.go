package rigging

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultNamespace is the prefix Velero gives a plugin name written without a
// "/": "aws" means "velero.io/aws".
const DefaultNamespace = "velero.io"

// maxDomainLen is the longest DNS-1123 subdomain apimachinery accepts.
const maxDomainLen = 253

var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Name is a validated, fully qualified plugin name of the form
// "<dns-1123-subdomain>/<name>", such as "velero.io/aws". The zero Name is
// invalid; obtain one from ParseName or MustParseName.
type Name string

// ParseName validates s by Velero's rules (velero-protocol.md §3.2) and returns
// it fully qualified. A name without "/" is taken to mean "velero.io/<s>", as
// Velero's host does. Otherwise s must have exactly two "/"-separated parts,
// both non-empty, the first a DNS-1123 subdomain of at most 253 characters.
// The error is a *NameError wrapping ErrInvalidName.
func ParseName(s string) (Name, error) {
	if s == "" {
		return "", &NameError{Name: s, Reason: "name is empty"}
	}
	if !strings.Contains(s, "/") {
		s = DefaultNamespace + "/" + s
	}
	domain, rest, _ := strings.Cut(s, "/")
	switch {
	case strings.Contains(rest, "/"):
		return "", &NameError{Name: s, Reason: "name must have exactly one '/' separating <dns-subdomain>/<name>"}
	case domain == "":
		return "", &NameError{Name: s, Reason: "the part before '/' is empty"}
	case rest == "":
		return "", &NameError{Name: s, Reason: "the part after '/' is empty"}
	case len(domain) > maxDomainLen:
		return "", &NameError{Name: s, Reason: fmt.Sprintf("the part before '/' is %d characters long, more than %d", len(domain), maxDomainLen)}
	case !dns1123Subdomain.MatchString(domain):
		return "", &NameError{Name: s, Reason: fmt.Sprintf("the part before '/' (%q) is not a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", domain)}
	}
	return Name(s), nil
}

// MustParseName is ParseName for names known at compile time; it panics on an
// invalid name.
func MustParseName(s string) Name {
	n, err := ParseName(s)
	if err != nil {
		panic(err)
	}
	return n
}

// Domain returns the part before the "/" ("velero.io" for "velero.io/aws").
func (n Name) Domain() string {
	d, _, _ := strings.Cut(string(n), "/")
	return d
}

// Short returns the part after the "/" ("aws" for "velero.io/aws").
func (n Name) Short() string {
	_, s, _ := strings.Cut(string(n), "/")
	return s
}

// String returns the fully qualified name.
func (n Name) String() string { return string(n) }

// NameError reports an invalid plugin name and why it is invalid. It matches
// ErrInvalidName with errors.Is.
type NameError struct {
	Name   string // the name as given (qualified with velero.io/ if it had no "/")
	Reason string // what is wrong with it
}

// Error implements error.
func (e *NameError) Error() string {
	return fmt.Sprintf("invalid plugin name %q: %s", e.Name, e.Reason)
}

// Unwrap returns ErrInvalidName.
func (e *NameError) Unwrap() error { return ErrInvalidName }
