package cluster

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// RequestCounter counts the requests a client sends to an API server, by
// verb: create, get, list, update, patch, delete, and discovery (/api,
// /apis, /version, /openapi and the like). Wrap a rest.Config with it
// (cfg.Wrap(c.Wrap)) before the clients are made; every client of that
// config is counted, rate-limit waits excluded. It is safe for concurrent
// use; the zero value is ready.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Wrap returns rt counting each request it sends.
func (c *RequestCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{c: c, next: rt}
}

// Counts returns the requests counted so far by verb, the verbs sorted.
func (c *RequestCounter) Counts() []VerbCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]VerbCount, 0, len(c.counts))
	for v, n := range c.counts {
		out = append(out, VerbCount{Verb: v, Requests: n})
	}
	slices.SortFunc(out, func(a, b VerbCount) int { return strings.Compare(a.Verb, b.Verb) })
	return out
}

// VerbCount is the number of requests of one verb.
type VerbCount struct {
	Verb     string
	Requests int
}

func (c *RequestCounter) add(verb string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[verb]++
	c.mu.Unlock()
}

type countingTransport struct {
	c    *RequestCounter
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.add(requestVerb(r.Method, r.URL.Path))
	return t.next.RoundTrip(r)
}

// requestVerb names the Kubernetes verb of a request from its method and
// path: a GET of a named object is a get, of a collection a list.
func requestVerb(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	// Resource paths: /api/v1/..., /apis/GROUP/VERSION/...
	var rest []string
	switch {
	case len(segs) > 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) > 3 && segs[0] == "apis":
		rest = segs[3:]
	default:
		return "discovery"
	}
	// namespaces/NS/RESOURCE[/NAME...] is namespaced; namespaces[/NAME]
	// is the namespaces resource itself.
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	named := len(rest) >= 2
	switch method {
	case http.MethodGet:
		if named {
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}
