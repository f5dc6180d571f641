package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// searcher runs searches on one bound connection and counts what it saw.
type searcher struct {
	s         *Source
	c         conn
	entries   int
	pages     int
	searches  int // requests sent: pages and base reads
	referrals int
	onPage    func() // progress hook, called after each page
}

// errStop ends a paged search early without an error.
var errStop = errors.New("stop")

// paged streams every entry matching filter under base, one page at a time
// (RFC 2696), handing each to fn as it arrives. Nothing is accumulated
// here: go-ldap's SearchWithPaging would hold the whole result (gigabytes
// for a large directory). Continuation references (AD's Configuration,
// DomainDnsZones, ...) are counted and skipped.
func (r *searcher) paged(ctx context.Context, what, base, filter string, attrs []string, fn func(*goldap.Entry) error) error {
	return r.pagedWith(ctx, what, base, filter, attrs, nil, fn)
}

// pagedWith is paged with extra request controls.
func (r *searcher) pagedWith(ctx context.Context, what, base, filter string, attrs []string, controls []goldap.Control, fn func(*goldap.Entry) error) error {
	var cookie []byte
	for page := 1; ; page++ {
		paging := goldap.NewControlPaging(uint32(r.s.cfg.PageSize))
		paging.SetCookie(cookie)
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, append([]goldap.Control{paging}, controls...))
		r.s.log.Debug("search", zap.String("what", what), zap.String("base", base), zap.String("filter", filter), zap.Int("page", page))
		cookie = nil
		n, err := r.run(ctx, req, func(e *goldap.Entry) error { return fn(e) }, func(ctrls []goldap.Control) {
			if p, ok := goldap.FindControl(ctrls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
				cookie = p.Cookie
			}
		})
		r.pages++
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", what, page, err)
		}
		r.s.log.Debug("page read", zap.String("what", what), zap.Int("page", page), zap.Int("entries", n))
		if r.onPage != nil {
			r.onPage()
		}
		if len(cookie) == 0 {
			return nil
		}
	}
}

// run performs one search request and streams its entries to fn.
// Cancellation is an error here: go-ldap's async search reports a
// cancelled search as a clean end, which would pass a cut-short read as
// whole.
func (r *searcher) run(ctx context.Context, req *goldap.SearchRequest, fn func(*goldap.Entry) error, done func([]goldap.Control)) (int, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.searches++
	resp := r.c.SearchAsync(sctx, req, 256)
	n := 0
	var fnErr error
	for resp.Next() {
		if e := resp.Entry(); e != nil {
			n++
			r.entries++
			if fnErr == nil {
				if fnErr = fn(e); fnErr != nil {
					cancel()
				}
			}
			continue
		}
		if resp.Referral() != "" {
			r.referrals++
			continue
		}
		if done != nil {
			done(resp.Controls())
		}
	}
	if fnErr != nil {
		return n, fnErr
	}
	if err := ctx.Err(); err != nil {
		// Checked first: a cancelled read closes the connection, and
		// that is the caller's doing, not an outage.
		return n, err
	}
	if err := resp.Err(); err != nil {
		if isNetworkError(err) {
			return n, fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
		}
		return n, err
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if r.c.IsClosing() {
		return n, fmt.Errorf("%w: connection closed during the search", directory.ErrUnavailable)
	}
	return n, nil
}

// base reads one entry by DN. A missing entry is (nil, nil).
func (r *searcher) base(ctx context.Context, dn string, attrs []string) (*goldap.Entry, error) {
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil)
	var got *goldap.Entry
	_, err := r.run(ctx, req, func(e *goldap.Entry) error { got = e; return nil }, nil)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dn, err)
	}
	return got, nil
}

// memberAttrs is the attribute to request for group members: "member", or
// "member;range=0-N" when an explicit range size is configured.
func (s *Source) memberAttr(attr string) string {
	if s.cfg.RangeSize > 0 {
		return fmt.Sprintf("%s;range=0-%d", attr, s.cfg.RangeSize-1)
	}
	return attr
}

// rangedValues returns the values of attr in e, whether sent whole
// ("member") or as a range ("member;range=0-1499"). more is the next
// range start when the server has more values to give, -1 otherwise.
func rangedValues(e *goldap.Entry, attr string) (vals []string, more int, err error) {
	more = -1
	prefix := strings.ToLower(attr) + ";range="
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if name == strings.ToLower(attr) {
			vals = append(vals, a.Values...)
			continue
		}
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		vals = append(vals, a.Values...)
		lo, hi, ok := strings.Cut(name[len(prefix):], "-")
		if !ok {
			return nil, -1, fmt.Errorf("attribute %s: malformed range", a.Name)
		}
		if hi == "*" {
			continue
		}
		start, err1 := strconv.Atoi(lo)
		end, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || end < start {
			return nil, -1, fmt.Errorf("attribute %s: malformed range", a.Name)
		}
		more = end + 1
	}
	return vals, more, nil
}

// allMembers completes a group's member list: the values already in e, and
// then every further range until the server says "*". AD sends ranges by
// itself above 1,500 values (MaxValRange); an explicit RangeSize makes any
// server do it.
func (r *searcher) allMembers(ctx context.Context, e *goldap.Entry, attr string) ([]string, error) {
	vals, more, err := rangedValues(e, attr)
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", e.DN, err)
	}
	for more >= 0 {
		var req string
		if r.s.cfg.RangeSize > 0 {
			req = fmt.Sprintf("%s;range=%d-%d", attr, more, more+r.s.cfg.RangeSize-1)
		} else {
			req = fmt.Sprintf("%s;range=%d-*", attr, more)
		}
		r.s.log.Debug("ranged read", zap.String("group", e.DN), zap.String("attribute", req))
		next, err := r.base(ctx, e.DN, []string{req})
		if err != nil {
			return nil, fmt.Errorf("group %s: members from %d: %w", e.DN, more, err)
		}
		if next == nil {
			return nil, fmt.Errorf("group %s: vanished while reading members from %d", e.DN, more)
		}
		got, nextMore, err := rangedValues(next, attr)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", e.DN, err)
		}
		if len(got) == 0 && nextMore < 0 && !hasRangedAttr(next, attr) {
			// The server returned no ranged attribute: the list shrank
			// below the start between requests. What we have is all.
			break
		}
		vals = append(vals, got...)
		if nextMore >= 0 && nextMore <= more {
			return nil, fmt.Errorf("group %s: range did not advance past %d", e.DN, more)
		}
		more = nextMore
	}
	return vals, nil
}

func hasRangedAttr(e *goldap.Entry, attr string) bool {
	prefix := strings.ToLower(attr) + ";range="
	for _, a := range e.Attributes {
		if strings.HasPrefix(strings.ToLower(a.Name), prefix) {
			return true
		}
	}
	return false
}

// lookupWorkers bounds the base searches in flight on one connection.
const lookupWorkers = 8

// lookup reads the entries named by keys (DN keys are valid DNs) that lie
// under base and match filter, several requests in flight at once so a
// distant DC's round trips overlap. Entries come back in no set order.
func (r *searcher) lookup(ctx context.Context, keys map[string][]int32, base, filter string, attrs []string) ([]*goldap.Entry, error) {
	baseKey := mustDNKey(base)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	type result struct {
		e   *goldap.Entry
		n   int
		err error
	}
	results := make(chan result)
	var wg sync.WaitGroup
	for range lookupWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &searcher{s: r.s, c: r.c}
			for dn := range work {
				req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
				var got *goldap.Entry
				_, err := w.run(ctx, req, func(e *goldap.Entry) error { got = e; return nil }, nil)
				if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
					err = nil
				}
				if err != nil {
					err = fmt.Errorf("read %s: %w", dn, err)
				}
				select {
				case results <- result{got, 1, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for k := range keys {
			if k != baseKey && !strings.HasSuffix(k, ","+baseKey) {
				continue
			}
			select {
			case work <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var out []*goldap.Entry
	var firstErr error
	for res := range results {
		r.entries += res.n
		if res.err != nil && firstErr == nil {
			firstErr = res.err
			cancel()
		}
		if res.e != nil {
			out = append(out, res.e)
		}
	}
	if firstErr != nil {
		return nil, fmt.Errorf("users: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.pages++
	if r.onPage != nil {
		r.onPage()
	}
	return out, nil
}
