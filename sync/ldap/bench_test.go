package ldap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/bench/ldapgen"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// BenchmarkSlapdRead100k reads the generated directory (100,000 users,
// 5,000 groups, ~450,000 memberships) from slapd and compares with an
// ldapsearch dump of the same entries, the C reference for "just reading
// the directory". Run: go test ./sync/ldap -run '^$' -bench Read100k -benchtime 1x
func BenchmarkSlapdRead100k(b *testing.B) {
	dir := b.TempDir()
	ldif := filepath.Join(dir, "bench.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	gen, err := ldapgen.Write(f, ldapgen.Options{})
	_ = f.Close()
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	s := harness.StartSlapd(b, harness.SlapdOptions{LDIFFiles: []string{ldif}, Quiet: true})
	b.Logf("slapadd -q + start: %s (%d users, %d groups, %d memberships)", time.Since(t0).Round(time.Millisecond), gen.Users, gen.Groups, gen.Memberships)

	t0 = time.Now()
	cmd := exec.Command("ldapsearch", "-x", "-LLL", "-H", s.URL, "-D", s.ReaderDN, "-w", s.ReaderPassword, "-b", s.BaseDN,
		"-E", "pr=1000/noprompt", "(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", "*", "memberOf", "entryUUID", "modifyTimestamp")
	cmd.Stdout = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ldapsearch: %v %s", err, out[:min(len(out), 500)])
	}
	ref := time.Since(t0)
	b.Logf("ldapsearch dump: %s", ref.Round(time.Millisecond))

	src, err := New(Config{
		Name: "bench", Kind: KindLDAP, URLs: []string{s.URL},
		BindDN: s.ReaderDN, BindPassword: s.ReaderPassword, BaseDN: s.BaseDN,
		DisabledFilter: "(employeeType=disabled)", Logger: zap.NewNop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	var snap directory.Snapshot
	for i := 0; i < b.N; i++ {
		// Measure the read's own peak: drop the generator's memory and
		// reset the kernel's high-water mark (VmHWM).
		runtime.GC()
		debug.FreeOSMemory()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		t0 = time.Now()
		snap, err = src.Read(ctx, directory.ReadRequest{Groups: gen.Imported})
		if err != nil {
			b.Fatal(err)
		}
		full := time.Since(t0)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.Logf("full read: %s (%.2fx ldapsearch), %d users, %d groups, %d entries, %d pages; heap in use %d MB, peak RSS %s",
			full.Round(time.Millisecond), full.Seconds()/ref.Seconds(), len(snap.Users), len(snap.Groups), snap.Stats.Entries,
			snap.Stats.Pages, ms.HeapInuse>>20, peakRSS())
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(full.Seconds()/ref.Seconds(), "x-ldapsearch")

		t0 = time.Now()
		inc, err := src.Read(ctx, directory.ReadRequest{Groups: gen.Imported, Cursor: snap.Cursor})
		if err != nil {
			b.Fatal(err)
		}
		// The cursor's overlap re-reads whatever changed in its window: the
		// load just happened, so wind the cursor past it for a no-change read.
		cur, _ := parseCursor(snap.Cursor)
		cur.t = cur.t.Add(time.Hour)
		cur.Time = formatGeneralizedTime(cur.t)
		t1 := time.Now()
		quiet, err := src.Read(ctx, directory.ReadRequest{Groups: gen.Imported, Cursor: cur.encode()})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("incremental within the overlap window: %s (%d users); no-change incremental: %s (%d users, %.2f%% of full)",
			t1.Sub(t0).Round(time.Millisecond), len(inc.Users), time.Since(t1).Round(time.Millisecond), len(quiet.Users),
			100*time.Since(t1).Seconds()/full.Seconds())
	}
	b.StopTimer()

	// A typical deployment imports a few groups. One member added to one
	// of them, then an incremental read (overlap cut to a second so the
	// bulk load just before is outside the window).
	cfg := src.cfg
	cfg.IncrementalOverlap = time.Second
	few, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	fewGroups := []string{ldapgen.GroupDN(s.BaseDN, 100), ldapgen.GroupDN(s.BaseDN, 200), ldapgen.GroupDN(s.BaseDN, 300)}
	t0 = time.Now()
	small, err := few.Read(ctx, directory.ReadRequest{Groups: fewGroups})
	if err != nil {
		b.Fatal(err)
	}
	smallFull := time.Since(t0)
	time.Sleep(1100 * time.Millisecond)
	since := cursor{Kind: KindLDAP}
	since.noteTime(formatGeneralizedTime(time.Now()))
	time.Sleep(1100 * time.Millisecond)
	s.Add(b, "dn: "+ldapgen.GroupDN(s.BaseDN, 100)+"\nchangetype: modify\nadd: member\nmember: "+ldapgen.UserDN(s.BaseDN, 99999)+"\n")
	t0 = time.Now()
	changed, err := few.Read(ctx, directory.ReadRequest{Groups: fewGroups, Cursor: since.encode()})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("3 small imported groups: full read %s (%d users, %d entries); one member added, incremental %s (%d users, %d groups, complete=%v)",
		smallFull.Round(time.Millisecond), len(small.Users), small.Stats.Entries, time.Since(t0).Round(time.Millisecond),
		len(changed.Users), len(changed.Groups), changed.Complete)

	if len(snap.Users) < gen.Users*9/10 {
		b.Fatalf("only %d users read", len(snap.Users))
	}
}

// peakRSS is the process's peak resident set (VmHWM).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.Atoi(f[1])
				return strconv.Itoa(kb/1024) + " MB"
			}
		}
	}
	return "?"
}
