package engine

import (
	"encoding/json"
	"fmt"
	"strings"
)

// summaryItems caps how many items of each kind Summary lists: a first
// import of 100,000 users should print a readable page, not a phone book.
const summaryItems = 50

// Summary renders the plan for a person: counts first, then each item with
// its changes and causes, blocked and skipped users, and warnings.
func (p Plan) Summary() string {
	var b strings.Builder
	mode := "full read"
	if !p.Complete {
		mode = "incremental read: users absent from it are left alone"
	}
	fmt.Fprintf(&b, "Plan for directory %s (%s; %s users and %s groups read)\n", p.Directory, mode, thousands(p.UsersRead), thousands(p.GroupsRead))
	c := p.Counts
	fmt.Fprintf(&b, "  create %s, update %s, deactivate %s, reactivate %s, unchanged %s; blocked %s, skipped %s\n",
		thousands(c.Created), thousands(c.Updated), thousands(c.Deactivated), thousands(c.Reactivated),
		thousands(c.Unchanged), thousands(len(p.Blocked)), thousands(len(p.Skipped)))
	fmt.Fprintf(&b, "  directory entries: %s to write, %s to remove\n", thousands(p.EntriesChanged), thousands(p.EntriesRemoved))

	shown := map[Kind]int{}
	total := map[Kind]int{}
	for _, it := range p.Items {
		total[it.Kind]++
	}
	for _, it := range p.Items {
		shown[it.Kind]++
		n := shown[it.Kind]
		if n > summaryItems {
			if n == summaryItems+1 {
				fmt.Fprintf(&b, "%s ... and %s more\n", it.Kind, thousands(total[it.Kind]-summaryItems))
			}
			continue
		}
		fmt.Fprintf(&b, "%s %s", it.Kind, it.Username)
		if it.Reason != "" {
			fmt.Fprintf(&b, ": %s", it.Reason)
		}
		b.WriteByte('\n')
		for _, ch := range it.ChangeList() {
			if it.Kind == KindCreate && ch.Old == "" && ch.New == "" {
				continue
			}
			fmt.Fprintf(&b, "    %s\n", ch)
		}
		if gained := it.GroupsGainedList(); len(gained) > 0 {
			fmt.Fprintf(&b, "    groups gained: %s\n", strings.Join(gained, ", "))
		}
		if len(it.GroupsLost) > 0 {
			fmt.Fprintf(&b, "    groups lost: %s\n", strings.Join(it.GroupsLost, ", "))
		}
		for _, n := range it.Notes {
			fmt.Fprintf(&b, "    note: %s\n", n)
		}
	}
	list := func(title string, bs []Blocked) {
		for i, x := range bs {
			if i == summaryItems {
				fmt.Fprintf(&b, "%s ... and %s more\n", title, thousands(len(bs)-summaryItems))
				break
			}
			name := x.Username
			if name == "" {
				name = x.DN
			}
			fmt.Fprintf(&b, "%s %s (%s): %s\n", title, name, x.Anchor, x.Reason)
		}
	}
	list("blocked", p.Blocked)
	list("skipped", p.Skipped)
	for i, w := range p.Warnings {
		if i == summaryItems {
			fmt.Fprintf(&b, "warning ... and %s more\n", thousands(len(p.Warnings)-summaryItems))
			break
		}
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// JSON renders the plan as JSON, keeping at most maxItems items (0: all)
// and saying how many were cut, so a run record of a 100,000-user first
// import stays a reasonable size. Counts always cover the whole plan.
func (p Plan) JSON(maxItems int) ([]byte, error) {
	if maxItems > 0 && len(p.Items) > maxItems {
		p.Truncated = len(p.Items) - maxItems
		p.Items = p.Items[:maxItems]
	}
	if maxItems > 0 && len(p.Warnings) > maxItems {
		p.Warnings = p.Warnings[:maxItems]
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("plan for %s: encode: %w", p.Directory, err)
	}
	return b, nil
}

// thousands formats n as 4,100.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
