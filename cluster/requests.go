package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RequestKind is what a request to the API server asked: its verb
// ("list", "get", "watch", "create", "update", "patch", "delete", or
// "discover" for the discovery paths /api, /apis, /api/v1 and
// /apis/GROUP/VERSION) and its resource (empty for discovery; the path for
// a request outside any group version, such as /version).
type RequestKind struct {
	Verb     string
	Resource schema.GroupResource
}

// RequestCounts are the requests sent to an API server, by kind. Each
// attempt is counted, a retry too.
type RequestCounts map[RequestKind]int

// Total is the number of requests.
func (c RequestCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// ByVerb sums the requests per verb.
func (c RequestCounts) ByVerb() map[string]int {
	out := map[string]int{}
	for k, v := range c {
		out[k.Verb] += v
	}
	return out
}

// String is the total, then the count of each verb, the verbs sorted:
// "95 (discover 20, get 2, list 73)".
func (c RequestCounts) String() string {
	by := c.ByVerb()
	parts := make([]string, 0, len(by))
	for _, verb := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s %d", verb, by[verb]))
	}
	return fmt.Sprintf("%d (%s)", c.Total(), strings.Join(parts, ", "))
}

// Detail is every kind with its count, one "verb resource=N" each, sorted
// by verb, then resource: for a debug log.
func (c RequestCounts) Detail() []string {
	kinds := slices.SortedFunc(maps.Keys(c), func(a, b RequestKind) int {
		return cmp.Or(cmp.Compare(a.Verb, b.Verb), cmp.Compare(a.Resource.String(), b.Resource.String()))
	})
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = fmt.Sprintf("%s %s=%d", k.Verb, k.Resource, c[k])
	}
	return out
}

// RequestCounter counts the requests a client sends to an API server, by
// kind. Wrap a rest.Config with it (cfg.Wrap(c.Wrap)) before its clients
// are made: every client of that config is counted, each attempt of a
// retried request too, client-side rate-limit waits not. It is safe for
// concurrent use; the zero value is ready.
type RequestCounter struct {
	mu     sync.Mutex
	counts RequestCounts
}

// Wrap returns rt counting each request it sends; it is a rest.Config
// WrapTransport.
func (c *RequestCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{c: c, next: rt}
}

// Counts returns a copy of the counts so far.
func (c *RequestCounter) Counts() RequestCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.counts)
	if out == nil {
		out = RequestCounts{}
	}
	return out
}

type countingTransport struct {
	c    *RequestCounter
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	k := kindOf(req.Method, req.URL.Path, req.URL.Query().Get("watch"))
	t.c.mu.Lock()
	if t.c.counts == nil {
		t.c.counts = RequestCounts{}
	}
	t.c.counts[k]++
	t.c.mu.Unlock()
	return t.next.RoundTrip(req)
}

// kindOf names the request of method on path, as the API server's request
// info does: /api/v1/... is the core group, /apis/GROUP/VERSION/... a
// named group, then optionally namespaces/NS, then the resource, then
// optionally a name and a subresource (counted as resource/subresource).
// watch is the watch query parameter.
func kindOf(method, path, watch string) RequestKind {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var group string
	var rest []string
	switch {
	case len(segs) >= 1 && segs[0] == "api":
		if len(segs) <= 2 {
			return RequestKind{Verb: "discover"}
		}
		rest = segs[2:]
	case len(segs) >= 1 && segs[0] == "apis":
		if len(segs) <= 3 {
			return RequestKind{Verb: "discover"}
		}
		group, rest = segs[1], segs[3:]
	default:
		return RequestKind{Verb: strings.ToLower(method), Resource: schema.GroupResource{Resource: path}}
	}
	// namespaces/NS/RESOURCE...: a namespaced resource; namespaces/NS alone
	// (or with a subresource such as finalize) is the namespace itself.
	if len(rest) >= 3 && rest[0] == "namespaces" && !isNamespaceSubresource(rest[2]) {
		rest = rest[2:]
	}
	resource, named := rest[0], len(rest) >= 2
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	gr := schema.GroupResource{Group: group, Resource: resource}
	verb := ""
	switch method {
	case http.MethodGet:
		switch {
		case watch == "true" || watch == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(method)
	}
	return RequestKind{Verb: verb, Resource: gr}
}

// isNamespaceSubresource reports the subresources of a namespace itself
// (namespaces/NS/status, namespaces/NS/finalize).
func isNamespaceSubresource(s string) bool { return s == "status" || s == "finalize" }
