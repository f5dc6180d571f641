package harness

import (
	"context"
	"os"
	"strings"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium driven through chromedp: Ctx runs
// actions (chromedp.Do, chromedp.Run) in its first tab.
type Browser struct {
	Ctx context.Context
}

// StartChromium starts Debian's chromium headless, speaking the DevTools
// protocol over a pipe (it opens no port at all; the pages it loads are
// the daemon's on 127.0.0.1), with a profile of its own in a temp dir and
// a window of width x height. The browser and the dir go at
// cleanup. A missing chromium fails the test with the package to install.
//
// It runs with --no-sandbox: Chromium's sandbox refuses to start as root,
// which is how the tests run on CI machines; it only ever loads the
// daemon under test on 127.0.0.1.
func StartChromium(t TB, width, height int) *Browser {
	t.Helper()
	exe := LookPath(t, "chromium", "chromium")
	dir, err := os.MkdirTemp("", "dirbridge-chromium-")
	if err != nil {
		t.Fatalf("harness: chromium profile dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var stderr strings.Builder
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(dir),
		// Its shared-memory files (disable-dev-shm-usage) go to TMPDIR:
		// keep them in the profile dir, removed with it.
		chromedp.Env("TMPDIR="+dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("lang", "en-GB"),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.CombinedOutput(&stderr),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(f string, a ...any) { t.Logf("chromium: "+f, a...) }))
	// Cancelling waits for the browser process to exit, so no chromium
	// outlives the test; the profile dir is removed after (cleanups run
	// last-in first-out).
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; no timeout here, or it would
	// stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("harness: start chromium (%s): %v\n%s", exe, err, stderr.String())
	}
	return &Browser{Ctx: ctx}
}
