package console

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
)

// chartRuns is how many of the latest runs the chart shows.
const chartRuns = 30

// runChart draws a directory's latest runs as an SVG image: created,
// updated and deactivated users per run (stacked), and each run's
// duration below. An image, drawn here, needs no script and no inline
// style, so the console's CSP stays as strict as it is.
func (c *Console) runChart(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var rl admin.SyncRunList
	q := url.Values{"directory": {r.PathValue("name")}, "limit": {fmt.Sprint(chartRuns)}}
	if err := c.get(r, s, "/api/v1/sync/runs", q, &rl); err != nil {
		return err
	}
	runs := slices.Clone(rl.Items)
	slices.Reverse(runs) // oldest first, left to right
	w.Header().Set("Content-Type", "image/svg+xml")
	_, err := w.Write([]byte(drawRuns(runs)))
	return err
}

// drawRuns is the chart's SVG.
func drawRuns(runs []admin.SyncRun) string {
	const (
		width, left, right = 720, 44, 12
		top, changesH      = 22, 130
		gap, durationH     = 40, 60
		height             = top + changesH + gap + durationH + 28
	)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, width, height, width, height)
	b.WriteString(`<title>Users created, updated and deactivated per sync run, and each run's duration</title>`)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, width, height)
	if len(runs) == 0 {
		b.WriteString(`<text x="12" y="24" fill="#5b6676">No run yet.</text></svg>`)
		return b.String()
	}
	maxChanges, maxSecs := 1, 1.0
	secs := make([]float64, len(runs))
	for i, r := range runs {
		maxChanges = max(maxChanges, r.Counts.Created+r.Counts.Updated+r.Counts.Deactivated)
		if r.FinishedAt != nil {
			secs[i] = r.FinishedAt.Sub(r.StartedAt).Seconds()
		}
		maxSecs = max(maxSecs, secs[i])
	}
	// A run's slot is at most 36 px wide, so a few runs stay bars, not
	// blocks; the newest run is at the right, as in a time line.
	slot := min(float64(width-left-right)/float64(len(runs)), 36)
	bar := max(slot*0.7, 2)
	x0 := float64(width-right) - slot*float64(len(runs))
	fmt.Fprintf(&b, `<text x="%d" y="14" fill="#1b2330" font-weight="bold">Changes per run</text>`, left)
	legend := []struct{ name, colour string }{{"created", "#1d7a3e"}, {"updated", "#1f5fbf"}, {"deactivated", "#b42318"}}
	for i, l := range legend {
		x := left + 130 + i*100
		fmt.Fprintf(&b, `<rect x="%d" y="5" width="10" height="10" fill="%s"/><text x="%d" y="14" fill="#1b2330">%s</text>`, x, l.colour, x+14, l.name)
	}
	axis := func(y0, h int, maxLabel string) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#aab4c3"/>`, left, y0+h, width-right, y0+h)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#5b6676">%s</text>`, left-4, y0+8, html.EscapeString(maxLabel))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#5b6676">0</text>`, left-4, y0+h)
	}
	axis(top, changesH, fmt.Sprint(maxChanges))
	durTop := top + changesH + gap
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1b2330" font-weight="bold">Duration</text>`, left, durTop-8)
	axis(durTop, durationH, fmt.Sprintf("%.1f s", maxSecs))
	for i, r := range runs {
		x := x0 + float64(i)*slot + (slot-bar)/2
		y := float64(top + changesH)
		for j, n := range []int{r.Counts.Created, r.Counts.Updated, r.Counts.Deactivated} {
			h := float64(n) / float64(maxChanges) * changesH
			if h <= 0 {
				continue
			}
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d %s</title></rect>`,
				x, y, bar, h, legend[j].colour, html.EscapeString(whenText(r.StartedAt)), n, legend[j].name)
		}
		h := max(secs[i]/maxSecs*durationH, 1)
		colour := "#8a94a6"
		if r.Status == "failed" || r.Status == "refused" {
			colour = "#b42318"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.1f s, %s</title></rect>`,
			x, float64(durTop+durationH)-h, bar, h, colour, html.EscapeString(whenText(r.StartedAt)), secs[i], html.EscapeString(r.Status))
	}
	y := durTop + durationH + 16
	// The newest run's time under the right end; the oldest's under its
	// bar when there is room for both.
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#5b6676">%s</text>`, width-right, y, html.EscapeString(whenText(runs[len(runs)-1].StartedAt)))
	if len(runs) > 1 && x0 < float64(width-right-260) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#5b6676">%s</text>`, x0, y, html.EscapeString(whenText(runs[0].StartedAt)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
