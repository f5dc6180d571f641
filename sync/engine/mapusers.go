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
	res, warns := mapUserChunks(m, users, groups, existing, workers)
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
type mapped struct {
	chunks [][]mapping.Result
	size   int // the length of every chunk but the last
}

func (m mapped) at(i int) *mapping.Result { return &m.chunks[i/m.size][i%m.size] }

// done says the results before i are no longer needed.
func (m mapped) done(i int) {
	if i > 0 && i%m.size == 0 {
		m.chunks[i/m.size-1] = nil
	}
}

// mapChunk is how many users one MapAll call maps when a large read is
// mapped in parallel: small enough that a plan frees the results steadily
// as it goes past them, large enough that each call's own preparation
// (an index of the groups) is small beside its users.
const mapChunk = 4096

// mapUserChunks is mapper.MapAll over chunks of users on up to workers
// goroutines, with the collisions between chunks found afterwards, so the
// result is what one MapAll call would give (warnings about the rules
// themselves are kept once).
func mapUserChunks(m Mapper, users []directory.User, groups []directory.Group, existing map[string]*store.User, workers int) (mapped, []Warning) {
	if workers < 2 || len(users) < 2*workers {
		rs, ws := m.MapAll(users, groups, existing)
		return mapped{chunks: [][]mapping.Result{rs}, size: max(len(rs), 1)}, ws
	}
	size := min(mapChunk, (len(users)+workers-1)/workers)
	n := (len(users) + size - 1) / size
	res := mapped{chunks: make([][]mapping.Result, n), size: size}
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

	// Each chunk blocked its own duplicates; what is still shared is shared
	// across chunks.
	// The first holder of each name is kept by position; only names held
	// more than once get a list (a map of lists for every name would be
	// 100,000 small allocations for a handful of collisions).
	first := make(map[string]int32, len(users))
	shared := map[string][]int{}
	var order []string
	for i := range users {
		r := res.at(i)
		if r.Blocked || r.Username == "" {
			continue
		}
		k := strings.ToLower(r.Username)
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
	for _, k := range order {
		is := shared[k]
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
	return res, out
}

func mapWorkers(users int) int {
	if users < parallelMapMin {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
