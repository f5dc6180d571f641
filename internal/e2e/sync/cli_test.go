package synce2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// dirbridgeBinary builds cmd/dirbridge once per test run.
func dirbridgeBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dirbridge-e2e-cli-")
		if err != nil {
			cliErr = err
			return
		}
		mainTB.Cleanup(func() { _ = os.RemoveAll(dir) })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin := filepath.Join(dir, "dirbridge")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dirbridge/dirbridge/cmd/dirbridge").CombinedOutput()
		if err != nil {
			cliErr = errors.New(string(out))
			return
		}
		cliBin = bin
	})
	if cliErr != nil {
		t.Fatalf("build dirbridge: %v", cliErr)
	}
	return cliBin
}

// cliSync runs `dirbridge sync --config FILE --json ARGS` and decodes its
// result; code is the exit status.
func cliSync(t *testing.T, e *env, args ...string) (res struct {
	Status string           `json:"status"`
	Error  string           `json:"error"`
	Counts store.SyncCounts `json:"counts"`
}, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dirbridgeBinary(t), append([]string{"sync", "--config", filepath.Join(e.dir, "dirbridge.yaml"), "--json"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("dirbridge sync: %v", err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("dirbridge sync %v: not JSON (%v): %s %s", args, err, out, stderr.String())
	}
	return res, code
}

// The administrator's approval of a plan beyond max_deactivations, from
// the command line: without --allow-mass-deactivation the run is refused
// (exit 1, the numbers in the message); with it the run goes through and
// the approval is in the audit log under the operator's name.
func TestMassDeactivationApprovalCLI(t *testing.T) {
	s := sharedSlapd(t)
	ou := s.ou(t, "e2e-cli-approve")
	dns := users(t, s, ou, names("cliap-", 5)...)
	group := s.group(t, ou, "cliap-group", dns...)
	o := s.opts(t)
	o.Groups = []string{group}
	o.MaxCount, o.MaxPercent = 2, 50
	e := newEnv(t, o)
	e.sync(true)
	s.removeMembers(t, group, dns[:3]...)
	e.close() // the CLI opens the store itself; nothing else may write it

	res, code := cliSync(t, e, "--full")
	if code != 1 || res.Status != string(store.SyncRefused) || !strings.Contains(res.Error, "plan would deactivate 3 of 5 users") {
		t.Fatalf("over the limit: exit %d, %+v", code, res)
	}
	res, code = cliSync(t, e, "--full", "--allow-mass-deactivation")
	if code != 0 || res.Status != string(store.SyncSucceeded) || res.Counts.Deactivated != 3 {
		t.Fatalf("approved: exit %d, %+v", code, res)
	}

	e.open(e.opts)
	ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: engine.ActionSyncApply, Limit: 1})
	if err != nil || len(ev) != 1 || !strings.HasPrefix(ev[0].Actor, "cli:") || ev[0].Details["mass_deactivation_approved"] != true {
		t.Fatalf("approval not audited: %+v %v", ev, err)
	}
	t.Logf("approval audited: actor %s, details %v", ev[0].Actor, ev[0].Details)
}
