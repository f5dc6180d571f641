package engine

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// parallelMapMin is the read size from which mapping is spread over the
// CPUs: template evaluation is most of a large plan's time, and each user
// maps independently of the others except for username collisions.
const parallelMapMin = 20_000

// mapUsers is mapper.MapAll over chunks of users on up to workers
// goroutines, with the collisions between chunks found afterwards, so the
// result is what one MapAll call would give (warnings about the rules
// themselves are kept once).
func mapUsers(m Mapper, users []directory.User, groups []directory.Group, existing map[string]*store.User, workers int) ([]mapping.Result, []Warning) {
	if workers < 2 || len(users) < 2*workers {
		return m.MapAll(users, groups, existing)
	}
	size := (len(users) + workers - 1) / workers
	results := make([]mapping.Result, len(users))
	warns := make([][]Warning, workers)
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := i*size, min((i+1)*size, len(users))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, ws := m.MapAll(users[lo:hi], groups, existing)
			copy(results[lo:hi], rs)
			warns[i] = ws
		}()
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
	idx := map[string][]int{}
	var order []string
	for i, r := range results {
		if r.Blocked || r.Username == "" {
			continue
		}
		k := strings.ToLower(r.Username)
		if _, ok := idx[k]; !ok {
			order = append(order, k)
		}
		idx[k] = append(idx[k], i)
	}
	for _, k := range order {
		is := idx[k]
		if len(is) < 2 {
			continue
		}
		for _, i := range is {
			var others []string
			for _, j := range is {
				if j != i {
					others = append(others, fmt.Sprintf("%s (%s)", results[j].DN, results[j].Anchor))
				}
			}
			results[i].Blocked = true
			out = append(out, Warning{
				Code: mapping.WarnCollision, Directory: results[i].Directory, Anchor: results[i].Anchor,
				Username: results[i].SAMAccountName, Blocking: true,
				Message: fmt.Sprintf("username %q is also produced for %s; none of them is created or updated", results[i].Username, strings.Join(others, ", ")),
			})
		}
	}
	return results, out
}

func mapWorkers(users int) int {
	if users < parallelMapMin {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
