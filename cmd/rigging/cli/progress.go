package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws a progress bar on a terminal, or logs a line every few
// seconds otherwise.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	log      *slog.Logger
	what     string
	tty      bool
	last     time.Time
	drawn    bool
	done_    bool
	interval time.Duration
}

func newProgress(g *globalFlags, w io.Writer, bar bool, what string) *progress {
	p := &progress{w: w, log: g.Logger, what: what, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok && bar && term.IsTerminal(int(f.Fd())) {
		p.tty, p.interval = true, 100*time.Millisecond
	}
	return p
}

func (p *progress) update(done, total int, resource string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.interval && done != total {
		return
	}
	p.last = now
	if !p.tty {
		p.log.Info("progress", "what", p.what, "items", done, "total", total, "resource", resource)
		return
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = width * done / total
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %-40.40s", p.what, strings.Repeat("#", filled), strings.Repeat("-", width-filled), done, total, resource)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn && !p.done_ {
		fmt.Fprintln(p.w)
	}
	p.done_ = true
}
