package engine

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// parallelMapMin is the read size from which mapping is spread over the
// CPUs: template evaluation is most of a large plan's time, and each user
// maps independently of the others except for username collisions.
const parallelMapMin = 20_000

// mapUsers is mapUserChunks' results as one slice.
func mapUsers(m Mapper, users []directory.User, groups []directory.Group, existing map[string]*store.User, workers int) ([]mapping.Result, []Warning) {
	res, warns := mapUserChunks(m, users, groups, existing, workers, nil)
	if len(res.chunks) == 1 {
		return res.chunks[0], warns
	}
	out := make([]mapping.Result, 0, len(users))
	for _, c := range res.chunks {
		out = append(out, c...)
	}
	return out, warns
}

// mapped is the results of a mapping in the chunks it was made in, read
// as one list: joining them would hold every result twice while copying
// (100,000 results are 30 MB), and a plan can drop each chunk once it has
// gone past it.
//
// A chunk may keep only some of its results (see dropFunc): slots then
// gives, for each of its users, the position of the user's result in the
// chunk, or -1 for a result dropped.
type mapped struct {
	chunks [][]mapping.Result
	slots  [][]int32 // per chunk; nil: every result kept, in order
	dirs   []string  // per chunk, the results' Directory (for a dropped result made again)
	size   int       // the users of every chunk but the last
}

// at returns the result of user i, or nil when it was dropped.
func (m mapped) at(i int) *mapping.Result {
	c, k := i/m.size, i%m.size
	if m.slots != nil && m.slots[c] != nil {
		if k = int(m.slots[c][k]); k < 0 {
			return nil
		}
	}
	return &m.chunks[c][k]
}

// done says the results before i are no longer needed.
func (m mapped) done(i int) {
	if i > 0 && i%m.size == 0 {
		m.chunks[i/m.size-1] = nil
		if m.slots != nil {
			m.slots[i/m.size-1] = nil
		}
	}
}

// restore makes a dropped result of user u (user i) again, as much of it
// as a collision needs: the user's names and its username, which for a
// dropped result is the stored user's (see dropFunc).
func (m mapped) restore(i int, u *directory.User, username string) {
	c, k := i/m.size, i%m.size
	m.chunks[c] = append(m.chunks[c], mapping.Result{Directory: m.dirs[c], Anchor: u.Anchor, DN: u.DN, UPN: u.UPN,
		SAMAccountName: u.Username, Username: username})
	m.slots[c][k] = int32(len(m.chunks[c]) - 1)
}

// dropFunc says whether the plan needs no more of user i's result r than
// that the user stays as stored: its username is the stored user's, and
// nothing else of it is read again unless a collision across chunks
// blocks the user (mapped.restore). Dropping the results of the users a
// run leaves unchanged (most, on most runs) keeps a large full sync from
// holding a result per user (30 MB for 100,000) while it plans.
type dropFunc func(i int, r *mapping.Result) bool

// mapChunk is how many users one MapAll call maps when a large read is
// mapped in parallel: small enough that a plan frees the results steadily
// as it goes past them, large enough that each call's own preparation
// (an index of the groups) is small beside its users.
const mapChunk = 4096

// mapUserChunks is mapper.MapAll over chunks of users on up to workers
// goroutines, with the collisions between chunks found afterwards, so the
// result is what one MapAll call would give (warnings about the rules
// themselves are kept once). drop, if not nil, is called on each result
// as its chunk is mapped (on the mapping's goroutines).
func mapUserChunks(m Mapper, users []directory.User, groups []directory.Group, existing map[string]*store.User, workers int, drop dropFunc) (mapped, []Warning) {
	if workers < 2 || len(users) < 2*workers {
		rs, ws := m.MapAll(users, groups, existing)
		res := mapped{chunks: [][]mapping.Result{rs}, size: max(len(rs), 1)}
		res.keep(0, 0, drop)
		return res, ws
	}
	size := min(mapChunk, (len(users)+workers-1)/workers)
	n := (len(users) + size - 1) / size
	res := mapped{chunks: make([][]mapping.Result, n), size: size}
	if drop != nil {
		res.slots, res.dirs = make([][]int32, n), make([]string, n)
	}
	warns := make([][]Warning, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				lo, hi := i*size, min((i+1)*size, len(users))
				res.chunks[i], warns[i] = m.MapAll(users[lo:hi], groups, existing)
				res.keep(i, lo, drop)
			}
		})
	}
	wg.Wait()
	out := warns[0]
	for _, ws := range warns[1:] {
		for _, w := range ws {
			if w.Anchor != "" { // a warning without a user is about the rules: every chunk gives it
				out = append(out, w)
			}
		}
	}
	return res, append(out, blockShared(res, users, existing)...)
}

// keep drops the results of chunk c (whose first user is user lo) that
// drop says the plan does not need, into a slice of the rest alone.
func (m *mapped) keep(c, lo int, drop dropFunc) {
	rs := m.chunks[c]
	if drop == nil || len(rs) == 0 {
		return
	}
	if m.slots == nil { // the single chunk
		m.slots, m.dirs = make([][]int32, 1), make([]string, 1)
	}
	slots := make([]int32, len(rs))
	kept := 0
	for k := range rs {
		if drop(lo+k, &rs[k]) {
			slots[k] = -1
		} else {
			slots[k] = int32(kept)
			kept++
		}
	}
	if kept == len(rs) {
		return // slots stay nil: every result in order
	}
	out := make([]mapping.Result, 0, kept)
	for k := range rs {
		if slots[k] >= 0 {
			out = append(out, rs[k])
		}
	}
	m.chunks[c], m.slots[c], m.dirs[c] = out, slots, rs[0].Directory
}

// blockShared blocks the users whose username a user of another chunk
// also maps to: each chunk blocked its own duplicates; what is still
// shared is shared across chunks.
func blockShared(res mapped, users []directory.User, existing map[string]*store.User) []Warning {
	// The first holder of each name is kept by position; only names held
	// more than once get a list (a map of lists for every name would be
	// 100,000 small allocations for a handful of collisions).
	first := make(map[string]int32, len(users))
	shared := map[string][]int{}
	var order []string
	for i := range users {
		var name string
		if r := res.at(i); r == nil {
			name = existing[users[i].Anchor].Username // dropped: the stored user's
		} else if !r.Blocked {
			name = r.Username
		}
		if name == "" {
			continue
		}
		k := strings.ToLower(name)
		j, ok := first[k]
		switch {
		case !ok:
			first[k] = int32(i)
		case shared[k] == nil:
			order = append(order, k)
			shared[k] = []int{int(j), i}
		default:
			shared[k] = append(shared[k], i)
		}
	}
	var out []Warning
	for _, k := range order {
		is := shared[k]
		for _, i := range is {
			if res.at(i) == nil {
				res.restore(i, &users[i], existing[users[i].Anchor].Username)
			}
		}
		for _, i := range is {
			var others []string
			for _, j := range is {
				if j != i {
					others = append(others, fmt.Sprintf("%s (%s)", res.at(j).DN, res.at(j).Anchor))
				}
			}
			r := res.at(i)
			r.Blocked = true
			out = append(out, Warning{
				Code: mapping.WarnCollision, Directory: r.Directory, Anchor: r.Anchor,
				Username: r.SAMAccountName, Blocking: true,
				Message: fmt.Sprintf("username %q is also produced for %s; none of them is created or updated", r.Username, strings.Join(others, ", ")),
			})
		}
	}
	return out
}

func mapWorkers(users int) int {
	if users < parallelMapMin {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
