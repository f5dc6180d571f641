package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/dirbridge/dirbridge/store"
)

// Entry attributes of a SCIM resource.
const (
	// attrResource holds the resource as JSON, as the client last sent it
	// (passwords and read-only attributes dropped).
	attrResource = "scim"
	// attrDeleted marks a user the client deleted: its entry stays (so a
	// re-creation finds the same local user) but it is no longer served.
	attrDeleted = "deleted"
)

// resource is a SCIM resource with the entry it is kept in.
type resource struct {
	entry store.DirectoryEntry
	doc   object
}

func (r resource) id() string { return r.entry.Anchor }

func (r resource) deleted() bool { return len(r.entry.Attributes[attrDeleted]) > 0 }

// loadEntry decodes the resource an entry keeps.
func loadEntry(e store.DirectoryEntry) (resource, error) {
	raw := e.Attributes[attrResource]
	if len(raw) != 1 {
		return resource{}, fmt.Errorf("scim entry %s/%s holds no resource", e.Directory, e.Anchor)
	}
	var doc object
	if err := json.Unmarshal([]byte(raw[0]), &doc); err != nil {
		return resource{}, fmt.Errorf("scim entry %s/%s: %w", e.Directory, e.Anchor, err)
	}
	return resource{entry: e, doc: doc}, nil
}

// store encodes the document into the entry.
func (r *resource) store() error {
	b, err := json.Marshal(r.doc)
	if err != nil {
		return fmt.Errorf("scim resource %s: %w", r.entry.Anchor, err)
	}
	attrs := map[string][]string{attrResource: {string(b)}}
	if r.deleted() {
		attrs[attrDeleted] = []string{"true"}
	}
	r.entry.Attributes = attrs
	return nil
}

// get reads one resource of kind by id; a missing, deleted or other-kind
// entry is a SCIM 404.
func get(ctx context.Context, rd store.Reader, src *source, kind store.EntryKind, id string) (resource, error) {
	e, err := rd.GetDirectoryEntry(ctx, src.dir, id)
	if err != nil {
		if isNotFound(err) {
			return resource{}, notFound(kindName(kind), id)
		}
		return resource{}, fmt.Errorf("scim %s: get %s %s: %w", src.Name, kind, id, err)
	}
	r, err := loadEntry(e)
	if err != nil {
		return resource{}, err
	}
	if e.Kind != kind || r.deleted() {
		return resource{}, notFound(kindName(kind), id)
	}
	return r, nil
}

// all reads every resource of kind (deleted ones too), oldest first.
func all(ctx context.Context, rd store.Reader, src *source, kind store.EntryKind) ([]resource, error) {
	entries, err := rd.ListDirectoryEntries(ctx, src.dir)
	if err != nil {
		return nil, fmt.Errorf("scim %s: list entries: %w", src.Name, err)
	}
	out := make([]resource, 0, len(entries))
	for _, e := range entries {
		if e.Kind != kind {
			continue
		}
		r, err := loadEntry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b resource) int {
		if c := strings.Compare(created(a.doc), created(b.doc)); c != 0 {
			return c
		}
		return strings.Compare(a.id(), b.id())
	})
	return out, nil
}

func created(doc object) string { return str(sub(doc, "meta"), "created") }

func kindName(k store.EntryKind) string {
	if k == store.EntryGroup {
		return "Group"
	}
	return "User"
}

// metaTime is the format of meta.created and meta.lastModified: fixed
// width, so the text sorts as the time does (lists are served oldest
// first).
const metaTime = "2006-01-02T15:04:05.000000Z07:00"

// stamp sets the server-kept meta of a document being stored.
func stamp(doc object, kind store.EntryKind, createdAt string, now time.Time) {
	if createdAt == "" {
		createdAt = now.UTC().Format(metaTime)
	}
	doc["meta"] = object{"resourceType": kindName(kind), "created": createdAt, "lastModified": now.UTC().Format(metaTime)}
}

// render is the resource as served: the stored document with its id and
// meta.location.
func render(r resource, base string) object {
	out := clone(r.doc).(map[string]any)
	out["id"] = r.id()
	meta, _ := out["meta"].(map[string]any)
	if meta == nil {
		meta = object{"resourceType": kindName(r.entry.Kind)}
		out["meta"] = meta
	}
	endpoint := "/Users/"
	if r.entry.Kind == store.EntryGroup {
		endpoint = "/Groups/"
	}
	meta["location"] = base + endpoint + r.id()
	return out
}

// project applies the attributes / excludedAttributes query parameters
// to top-level attributes; id, schemas and meta are always returned.
func project(doc object, q map[string][]string) object {
	keep := splitList(first(q, "attributes"))
	drop := splitList(first(q, "excludedAttributes"))
	if len(keep) == 0 && len(drop) == 0 {
		return doc
	}
	for k := range doc {
		lk := strings.ToLower(k)
		if lk == "id" || lk == "schemas" || lk == "meta" {
			continue
		}
		if (len(keep) > 0 && !keep[lk]) || drop[lk] {
			delete(doc, k)
		}
	}
	return doc
}

func first(q map[string][]string, key string) string {
	for k, v := range q {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// splitList reads "members,displayName" as lower-cased top-level names
// (a sub-attribute keeps its parent).
func splitList(s string) map[string]bool {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	out := map[string]bool{}
	for _, a := range strings.Split(s, ",") {
		a = strings.ToLower(strings.TrimSpace(a))
		for _, prefix := range []string{strings.ToLower(SchemaUser) + ":", strings.ToLower(SchemaGroup) + ":"} {
			a = strings.TrimPrefix(a, prefix)
		}
		if i := strings.IndexByte(a, '.'); i > 0 && !strings.HasPrefix(a, "urn:") {
			a = a[:i]
		}
		out[a] = true
	}
	return out
}

// listQuery reads a list request's filter and page (startIndex, count).
func listQuery(rq *request) (f filter.Expression, start, count int, err error) {
	q := rq.URL.Query()
	if f, err = parseFilter(first(q, "filter")); err != nil {
		return nil, 0, 0, err
	}
	start, count, err = page(q, rq.src.MaxResults)
	return f, start, count, err
}

// page reads startIndex and count (RFC 7644 section 3.4.2.4): 1-based,
// count capped at max.
func page(q map[string][]string, maxResults int) (start, count int, err error) {
	start, count = 1, maxResults
	if s := first(q, "startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, badValue("startIndex %q is not an integer", s)
		}
		start = max(n, 1)
	}
	if s := first(q, "count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, badValue("count %q is not an integer", s)
		}
		count = min(max(n, 0), maxResults)
	}
	return start, count, nil
}

// slice returns the page [start, start+count) of n items as indices.
func slice(n, start, count int) (from, to int) {
	from = min(start-1, n)
	to = min(from+count, n)
	return from, to
}

// decodeResource reads a request body as one JSON object.
func decodeResource(body []byte) (object, error) {
	var doc object
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return nil, errorf(http.StatusBadRequest, typeInvalidSyntax, "the body is not a JSON object")
	}
	return doc, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
