package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/store"
)

func (s *Server) knownDirectory(name, field string) error {
	if slices.Contains(s.dirs, name) {
		return nil
	}
	if field != "" {
		return fieldErr(field, "unknown directory %q (configured: %s)", name, strings.Join(s.dirs, ", "))
	}
	return notFound("directory", name)
}

func (s *Server) handleStartSync(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in SyncInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "directory:" + in.Directory
	if in.Directory == "" {
		if len(s.dirs) != 1 {
			return fieldErr("directory", "directory is required (configured: %s)", strings.Join(s.dirs, ", "))
		}
		in.Directory = s.dirs[0]
		c.target = "directory:" + in.Directory
	}
	if err := s.knownDirectory(in.Directory, "directory"); err != nil {
		return err
	}
	if s.sync == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "this daemon runs no sync engine")
	}
	c.detail("full", in.Full)
	c.detail("dry_run", in.DryRun)
	if in.AllowMassDeactivation {
		c.detail("allow_mass_deactivation", true)
	}
	ctx := r.Context()
	id, err := s.sync.Trigger(ctx, SyncRequest{Directory: in.Directory, Full: in.Full, DryRun: in.DryRun,
		AllowMassDeactivation: in.AllowMassDeactivation, Actor: c.actor()})
	if err != nil {
		return fmt.Errorf("start sync of %s: %w", in.Directory, err)
	}
	c.detail("run_id", id)
	// The run itself is recorded by the engine; this records who asked.
	if err := s.store.Tx(ctx, func(tx store.Tx) error { return s.audit(ctx, tx, c, "sync.start") }); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/sync/runs/"+id)
	writeJSON(w, http.StatusAccepted, SyncStarted{RunID: id})
	return nil
}

func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request, c *caller) error {
	dir := r.URL.Query().Get("directory")
	if dir != "" {
		if err := s.knownDirectory(dir, "directory"); err != nil {
			return err
		}
	}
	limit, err := intQuery(r, "limit", 50, 1000)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 50
	}
	runs, err := s.store.ListSyncRuns(r.Context(), store.SyncRunFilter{Directory: dir, Limit: limit})
	if err != nil {
		return fmt.Errorf("list sync runs: %w", err)
	}
	reach, err := s.syncReach(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	out := SyncRunList{Items: make([]SyncRun, 0, len(runs))}
	for _, run := range runs {
		if !reach.All {
			if _, run.Counts, err = scopePlan(r.Context(), s.store, reach, run.Plan); err != nil {
				return fmt.Errorf("sync run %s: %w", run.ID, err)
			}
		}
		out.Items = append(out.Items, toSyncRun(run, false))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	run, err := s.store.GetSyncRun(r.Context(), id)
	if err != nil {
		return storeErr(err, "sync run", id)
	}
	reach, err := s.syncReach(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	if !reach.All {
		if run.Plan, run.Counts, err = scopePlan(r.Context(), s.store, reach, run.Plan); err != nil {
			return fmt.Errorf("sync run %s: %w", id, err)
		}
		run.Stats = nil
	}
	writeJSON(w, http.StatusOK, toSyncRun(run, true))
	return nil
}

func (s *Server) handleListDirectories(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := DirectoryList{Items: make([]Directory, 0, len(s.dirs))}
	var next map[string]NextSync
	if s.nextSyncs != nil {
		next = s.nextSyncs(s.now())
	}
	for _, name := range s.dirs {
		d := Directory{Name: name}
		if n, ok := next[name]; ok {
			d.NextSyncAt, d.NextFullSyncAt = timePtr(n.Incremental), timePtr(n.Full)
		}
		st, err := s.store.GetDirectoryState(r.Context(), name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("state of directory %s: %w", name, err)
		default:
			d.LastFullAt, d.LastSuccessAt = timePtr(st.LastFullAt), timePtr(st.LastSuccessAt)
		}
		out.Items = append(out.Items, d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleStats computes a directory's import statistics from the store, so
// they are right whichever replica ran the sync.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	if err := s.knownDirectory(name, ""); err != nil {
		return err
	}
	stats, err := Stats(r.Context(), s.store, name)
	if err != nil {
		return err
	}
	reach, err := s.syncReach(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	if !reach.All {
		if stats, err = scopeStats(r.Context(), s.store, reach, name, stats); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, stats)
	return nil
}

func (s *Server) handleListEntries(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	if err := s.knownDirectory(name, ""); err != nil {
		return err
	}
	q := r.URL.Query()
	kind := q.Get("kind")
	if kind != "" && kind != string(store.EntryUser) && kind != string(store.EntryGroup) {
		return fieldErr("kind", "kind must be user or group")
	}
	mapped := q.Get("mapped")
	if mapped != "" && mapped != "true" && mapped != "false" {
		return fieldErr("mapped", "mapped must be true or false")
	}
	entries, err := s.store.ListDirectoryEntries(r.Context(), name)
	if err != nil {
		return fmt.Errorf("list entries of %s: %w", name, err)
	}
	out := DirectoryEntryList{Items: []DirectoryEntry{}}
	for _, e := range entries {
		if kind != "" && string(e.Kind) != kind {
			continue
		}
		if mapped != "" && (e.UserID != "") != (mapped == "true") {
			continue
		}
		out.Items = append(out.Items, toEntry(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// link maps an entry to a local user (mode "map": the entry must be
// unmapped; "remap": it may be mapped to someone else).
func (s *Server) link(w http.ResponseWriter, r *http.Request, c *caller, mode string) error {
	dir, anchor := r.PathValue("name"), r.PathValue("anchor")
	c.target = "entry:" + dir + "/" + anchor
	var in MapRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if in.User == "" {
		return fieldErr("user", "user (id or username) is required")
	}
	if err := s.knownDirectory(dir, ""); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	var entry store.DirectoryEntry
	err := s.tx(ctx, c, "entry."+mode, func(tx store.Tx) error {
		var err error
		entry, err = tx.GetDirectoryEntry(ctx, dir, anchor)
		if err != nil {
			return storeErr(err, "directory entry", dir+"/"+anchor)
		}
		if entry.Kind != store.EntryUser {
			return errf(http.StatusConflict, CodeConflict, "entry %s is a group; only users can be mapped", entry.Name)
		}
		if mode == "map" && entry.UserID != "" {
			return errf(http.StatusConflict, CodeConflict, "entry %s is already mapped; use remap", entry.Name)
		}
		u, err := s.findUser(r, tx, in.User)
		if err != nil {
			if ae := (*apiError)(nil); errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return fieldErr("user", "user %q does not exist", in.User)
			}
			return err
		}
		// The entry's data replaces the user's names at the next sync, and
		// whoever controls the entry's directory account signs in as the
		// user: the caller must be allowed to map onto this account.
		act := ActMap
		if mode == "remap" {
			act = ActRemap
		}
		if err := s.authorizeOn(ctx, tx, c, u, act); err != nil {
			return err
		}
		if u.Source != store.SourceLocal && !(u.Source == dir && u.Anchor == anchor) {
			return errf(http.StatusConflict, CodeConflict, "user %s is already linked to %s; unmap it first", u.Username, u.Source)
		}
		if entry.UserID != "" && entry.UserID != u.ID {
			// Remap: the previous user becomes a plain local account.
			prev, err := tx.GetUser(ctx, entry.UserID)
			if err == nil {
				if err := s.authorizeOn(ctx, tx, c, prev, ActRemap); err != nil {
					return err
				}
				c.detail("previous_user", prev.Username)
				toLocal(&prev)
				if err := tx.UpdateUser(ctx, &prev); err != nil {
					return storeErr(err, "user", prev.Username)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("get previously mapped user: %w", err)
			}
		}
		c.detail("user", u.Username)
		u.Source, u.Anchor, u.DN = dir, anchor, entry.DN
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return storeErr(err, "user", u.Username)
		}
		entry.UserID, entry.Unmapped, entry.UpdatedAt = u.ID, false, now
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{entry})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEntry(entry))
	return nil
}

// toLocal turns a directory user into a local account: it keeps its data
// but has to set a local password to sign in with one.
func toLocal(u *store.User) {
	u.Source, u.Anchor = store.SourceLocal, ""
	u.MustChangePassword = true
}

func (s *Server) handleMap(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.link(w, r, c, "map")
}

func (s *Server) handleRemap(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.link(w, r, c, "remap")
}

func (s *Server) handleUnmap(w http.ResponseWriter, r *http.Request, c *caller) error {
	dir, anchor := r.PathValue("name"), r.PathValue("anchor")
	c.target = "entry:" + dir + "/" + anchor
	if err := s.knownDirectory(dir, ""); err != nil {
		return err
	}
	ctx := r.Context()
	var entry store.DirectoryEntry
	err := s.tx(ctx, c, "entry.unmap", func(tx store.Tx) error {
		var err error
		entry, err = tx.GetDirectoryEntry(ctx, dir, anchor)
		if err != nil {
			return storeErr(err, "directory entry", dir+"/"+anchor)
		}
		if entry.UserID == "" {
			return errf(http.StatusConflict, CodeConflict, "entry %s is not mapped", entry.Name)
		}
		u, err := tx.GetUser(ctx, entry.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("get mapped user: %w", err)
		default:
			if err := s.authorizeOn(ctx, tx, c, u, ActUnmap); err != nil {
				return err
			}
			c.detail("user", u.Username)
			toLocal(&u)
			if err := tx.UpdateUser(ctx, &u); err != nil {
				return storeErr(err, "user", u.Username)
			}
		}
		// Remembered, so the next sync does not link it straight back.
		entry.UserID, entry.Unmapped, entry.UpdatedAt = "", true, s.now().UTC()
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{entry})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEntry(entry))
	return nil
}
