package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rigging-dev/rigging/bench/measure"
)

// Markers delimit the generated region of docs/BENCHMARKS.md; UpdateDoc
// replaces only what lies between them.
const (
	BeginMarker = "<!-- bench:begin -->"
	EndMarker   = "<!-- bench:end -->"
)

// Labels describe the result names in tables and the chart.
var Labels = map[string]string{
	Direct:           "direct Go call",
	InProcess:        "rigging Manager, in-process",
	InMemoryGRPC:     "rigging Manager over in-memory gRPC",
	RiggingRigging:   "rigging host → rigging plugin",
	RiggingVelero:    "rigging host → Velero-framework plugin",
	VeleroVelero:     "Velero host → Velero-framework plugin",
	VeleroRigging:    "Velero host → rigging plugin",
	FloorGRPC:        "raw gRPC unary, same bytes (floor)",
	FloorUnix:        "raw unix-socket round trip (floor)",
	JSONCodec:        "JSON work of one Execute with encoding/json, no transport",
	JSONCodecItem:    "the same without the Backup",
	JSONUjsonItem:    "item JSON work with internal/ujson (rigging), no transport",
	Ideal("velero"):  "ideal host → Velero-framework plugin",
	Ideal("rigging"): "ideal host → rigging plugin",
}

func label(name string) string {
	if l, ok := Labels[name]; ok {
		return l
	}
	return name
}

// parallelName matches the names Parallel makes.
var parallelName = regexp.MustCompile(`-c[0-9]+$`)

// Markdown renders the report's tables: per call, throughput, object
// streams, discovery and first call, the backup, and the targets.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, %s, Linux %s, %s; load average at start %s; measured %s.\n\n",
		m.CPU, m.CPUs, m.OS, m.Kernel, m.Go, m.LoadAvg, m.Date)
	if r.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	}
	var perCall, tput, obj, other, bk []measure.Result
	for _, x := range r.Results {
		switch {
		case strings.HasPrefix(x.Name, "put-") || strings.HasPrefix(x.Name, "get-"):
			obj = append(obj, x)
		case strings.HasPrefix(x.Name, "discovery-") || strings.HasPrefix(x.Name, "firstcall-"):
			other = append(other, x)
		case strings.HasPrefix(x.Name, "backup-"):
			bk = append(bk, x)
		case parallelName.MatchString(x.Name):
			tput = append(tput, x)
		default:
			perCall = append(perCall, x)
		}
	}
	if len(perCall) > 0 {
		b.WriteString("### BackupItemAction Execute, one caller\n\n")
		b.WriteString("![per-call p50](bench-per-call.svg)\n\n")
		b.WriteString("| path | p50 | mean | p99 | host allocs/op | host B/op | host CPU/op | plugin CPU/op | calls |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range perCall {
			fmt.Fprintf(&b, "| %s (`%s`) | %s | %s | %s | %.1f | %.0f | %s | %s | %d |\n", label(x.Name), x.Name,
				fmtNs(x.P50Ns), fmtNs(x.NsPerOp), fmtNs(x.P99Ns), x.AllocsPerOp, x.BytesPerOp, fmtNs(x.CPUNsPerOp), fmtNs(x.ChildCPUNsPerOp), x.Ops)
		}
		b.WriteString("\n")
	}
	if len(tput) > 0 {
		b.WriteString("### Throughput, N goroutines sharing one plugin instance\n\n| case | calls/s | host CPU/call | plugin CPU/call | calls |\n|---|---|---|---|---|\n")
		for _, x := range tput {
			fmt.Fprintf(&b, "| `%s` | %.0f | %s | %s | %d |\n", x.Name, x.OpsPerS, fmtNs(x.CPUNsPerOp), fmtNs(x.ChildCPUNsPerOp), x.Ops)
		}
		b.WriteString("\n")
	}
	if len(obj) > 0 {
		b.WriteString("### Object streams (null store on the plugin side; floors: the same bytes over a bare gRPC stream of 16 KiB messages and over a bare unix socket)\n\n| case | MB/s (10^6 B) | host CPU/op | plugin CPU/op | ops |\n|---|---|---|---|---|\n")
		for _, x := range obj {
			fmt.Fprintf(&b, "| `%s` | %.0f | %s | %s | %d |\n", x.Name, x.MBPerS, fmtNs(x.CPUNsPerOp), fmtNs(x.ChildCPUNsPerOp), x.Ops)
		}
		b.WriteString("\n")
	}
	if len(other) > 0 {
		b.WriteString(fmt.Sprintf("### Discovery of %d plugin binaries, first call after start\n\n| case | mean | p50 | runs |\n|---|---|---|---|\n", DiscoveryBinarys))
		for _, x := range other {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d |\n", x.Name, fmtNs(x.NsPerOp), fmtNs(x.P50Ns), x.Ops)
		}
		b.WriteString("\n")
	}
	if len(bk) > 0 {
		b.WriteString("### Backup of the generated items (filesystem store)\n\n| case | items/s | time per item | host allocs/item | plugin CPU/item | items |\n|---|---|---|---|---|---|\n")
		for _, x := range bk {
			fmt.Fprintf(&b, "| `%s` | %.0f | %s | %.0f | %s | %d |\n", x.Name, x.OpsPerS, fmtNs(x.NsPerOp), x.AllocsPerOp, fmtNs(x.ChildCPUNsPerOp), x.Ops)
		}
		b.WriteString("\n")
	}
	if len(r.Memory) > 0 {
		b.WriteString("### Peak RSS of `rigging backup create` (child process, median of runs; baseline: a one-item set, from the cluster the server's own objects)\n\n| case | items | peak RSS | baseline | KiB/item over baseline | runs |\n|---|---|---|---|---|---|\n")
		last := map[string]string{} // source: the command of its last row
		var sources []string
		for _, x := range r.Memory {
			fmt.Fprintf(&b, "| `%s` | %d | %d KiB | %d KiB | %.2f | %d |\n", x.Name, x.Items, x.PeakRSSKiB, x.BaselineKiB, x.KiBPerItem, x.Runs)
			if _, ok := last[x.Source]; !ok {
				sources = append(sources, x.Source)
			}
			last[x.Source] = x.Command
		}
		b.WriteString("\n")
		for _, src := range sources {
			fmt.Fprintf(&b, "Command (per run, %s): `%s`\n\n", src, last[src])
		}
	}
	b.WriteString("### Targets (ratios of this run)\n\n| # | key | what | value | target | met |\n|---|---|---|---|---|---|\n")
	for _, t := range Targets {
		op := "≥"
		if t.AtMost {
			op = "≤"
		}
		v, ok := r.Ratios[t.Key]
		if !ok {
			fmt.Fprintf(&b, "| %d | `%s` | %s | not measured: %s | %s %g | – |\n", t.Number, t.Key, t.Means, r.Missing[t.Key], op, t.Want)
			continue
		}
		met := "**no**"
		if t.Met(v) {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s | %s %g | %s |\n", t.Number, t.Key, t.Means, fmtRatio(v), op, t.Want, met)
	}
	if v, w := ratio(p50(VeleroVelero), p50(VeleroRigging))(r); w == "" {
		met := "**no**"
		if v > 1 {
			met = "yes"
		}
		fmt.Fprintf(&b, "| 3 | (not a JSON key) | Velero→Velero p50 / Velero host → rigging plugin p50 | %s | > 1 | %s |\n", fmtRatio(v), met)
	}
	// Bounds: what the targets could reach at best on this machine, from
	// cases that do only the work no implementation can avoid.
	var bounds strings.Builder
	for _, bd := range Bounds {
		if v, w := bd.compute(r); w == "" {
			fmt.Fprintf(&bounds, "| %d | %s | %s | %s |\n", bd.Number, bd.Means, fmtRatio(v), bd.Limits)
		}
	}
	if bounds.Len() > 0 {
		b.WriteString("\n### Bounds (the best a target could show on this machine, same run)\n\n| # | ratio | value | bounds |\n|---|---|---|---|\n")
		b.WriteString(bounds.String())
	}
	return b.String()
}

func fmtRatio(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// SVG draws the per-call p50 latencies as horizontal bars on a log scale,
// labelled with the path and the figure; it renders on GitHub.
func (r *Report) SVG() []byte {
	var rows []measure.Result
	for _, x := range r.Results {
		if _, ok := Labels[x.Name]; ok && x.P50Ns > 0 {
			rows = append(rows, x)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].P50Ns < rows[j].P50Ns })
	const (
		left, barMax, rowH, top = 330.0, 420.0, 28.0, 40.0
		width                   = left + barMax + 110
	)
	height := top + rowH*float64(len(rows)) + 30
	lo, hi := 1.0, 1.0 // decades
	for _, x := range rows {
		hi = math.Max(hi, math.Ceil(math.Log10(x.P50Ns)))
	}
	scale := func(ns float64) float64 { return barMax * (math.Log10(math.Max(ns, 10)) - lo) / (hi - lo) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">BackupItemAction Execute, p50 per call (log scale), %s</text>`+"\n", html.EscapeString(r.Machine.Date))
	for d := lo; d <= hi; d++ {
		x := left + scale(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#dddddd"/>`+"\n", x, top-6, x, height-24)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#777777" text-anchor="middle" font-size="11">%s</text>`+"\n", x, height-10, tick(d))
	}
	for i, x := range rows {
		y := top + rowH*float64(i)
		color := "#4c78a8"
		switch {
		case strings.HasPrefix(x.Name, "velero"):
			color = "#e45756"
		case strings.HasPrefix(x.Name, "floor"):
			color = "#9d9d9d"
		}
		w := math.Max(scale(x.P50Ns), 1)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+15, html.EscapeString(label(x.Name)))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="%s"/>`+"\n", left, y+3, w, rowH-8, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+w+6, y+15, fmtNs(x.P50Ns))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// UpdateDoc replaces the generated region of the Markdown file at path
// (between BeginMarker and EndMarker) with body, or appends the region
// when the file has none; the rest of the file is kept as it is.
func UpdateDoc(path, body string) error { return UpdateRegion(path, BeginMarker, EndMarker, body) }

// UpdateRegion replaces the region of the file at path between the lines
// begin and end (markers included) with body, or appends the region when
// the file has none; the rest of the file is kept as it is. Unbalanced
// markers are an error and leave the file unchanged.
func UpdateRegion(path, begin, end, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	region := begin + "\n" + body + end + "\n"
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + region + strings.TrimPrefix(s[j+len(end):], "\n")
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: unbalanced %s / %s markers", path, begin, end)
	default:
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s = strings.TrimRight(s, "\n") + "\n\n"
		}
		s += region
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// WriteDocs writes the report into dir: benchmarks.json, bench-per-call.svg
// and the generated region of BENCHMARKS.md (the hand-written sections of
// that file are kept).
func WriteDocs(dir string, r *Report) error {
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-per-call.svg"), r.SVG(), 0o644); err != nil {
		return err
	}
	return UpdateDoc(filepath.Join(dir, "BENCHMARKS.md"), "## Generated by `make bench`\n\n"+r.Markdown())
}

// tick labels the decade 10^d ns.
func tick(d float64) string {
	units := []string{"ns", "µs", "ms", "s"}
	i := min(int(d)/3, len(units)-1)
	return fmt.Sprintf("%.0f %s", math.Pow(10, d-float64(3*i)), units[i])
}
