package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// tm encodes a time column: microseconds since the epoch, NULL for zero.
func tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// nullTime scans a time column.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.t = time.Time{}
	case int64:
		*n.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	return nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

const userCols = `id, username, display_name, first_name, last_name, email, language, state,
	deactivated_reason, source, anchor, dn, upn, sam_account_name, profile, custom_privileges,
	units, superuser, fields, pinned_profile, pinned_units, password_hash, password_history,
	password_changed_at, password_expires_at, password_never_expires, must_change_password,
	account_expires_at, emergency, expires_at, created_at, updated_at, version`

type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var state, custom, units, fields, hist string
	err := sc.Scan(&u.ID, &u.Username, &u.DisplayName, &u.FirstName, &u.LastName, &u.Email,
		&u.Language, &state, &u.DeactivatedReason, &u.Source, &u.Anchor, &u.DN, &u.UPN,
		&u.SAMAccountName, &u.Profile, &custom, &units, &u.Superuser, &fields, &u.PinnedProfile,
		&u.PinnedUnits, &u.PasswordHash, &hist, nullTime{&u.PasswordChangedAt},
		nullTime{&u.PasswordExpiresAt}, &u.PasswordNeverExpires, &u.MustChangePassword,
		nullTime{&u.AccountExpiresAt}, &u.Emergency, nullTime{&u.ExpiresAt},
		nullTime{&u.CreatedAt}, nullTime{&u.UpdatedAt}, &u.Version)
	if err != nil {
		return u, err
	}
	u.State = store.UserState(state)
	if u.CustomPrivileges, err = stringsCol(custom); err != nil {
		return u, err
	}
	if u.Units, err = stringsCol(units); err != nil {
		return u, err
	}
	if fields != "null" {
		if u.Fields, err = codec.StringMap(fields); err != nil {
			return u, err
		}
	}
	if u.PasswordHistory, err = stringsCol(hist); err != nil {
		return u, err
	}
	return u, nil
}

// userArgs are the values of every column but id, created_at and version,
// in the order insertUser and updateUser name them.
func userArgs(u *store.User) ([]any, error) {
	return appendUserArgs(make([]any, 0, insertCols), u)
}

// insertCols is the column count of insertUser.
const insertCols = 37

// appendUserArgs appends userArgs to args: a bulk write fills one buffer
// for a whole statement instead of a slice per row.
func appendUserArgs(args []any, u *store.User) ([]any, error) {
	custom, units, hist := jsonStrings(u.CustomPrivileges), jsonStrings(u.Units), jsonStrings(u.PasswordHistory)
	fields := "null"
	if u.Fields != nil {
		var err error
		if fields, err = codec.JSON(u.Fields); err != nil {
			return args, err
		}
	}
	return append(args,
		u.Username, codec.Fold(u.Username), u.DisplayName, u.FirstName, u.LastName, u.Email,
		codec.Fold(u.Email), u.Language, string(u.State), u.DeactivatedReason, u.Source, u.Anchor,
		u.DN, u.UPN, codec.Fold(u.UPN), u.SAMAccountName, u.Profile, custom, units,
		b2i(u.Superuser), fields, b2i(u.PinnedProfile), b2i(u.PinnedUnits), u.PasswordHash, hist,
		tm(u.PasswordChangedAt), tm(u.PasswordExpiresAt), b2i(u.PasswordNeverExpires),
		b2i(u.MustChangePassword), tm(u.AccountExpiresAt), b2i(u.Emergency), tm(u.ExpiresAt),
		tm(u.UpdatedAt), codec.SearchKey(u),
	), nil
}

const insertUser = `INSERT INTO users (username, username_lc, display_name, first_name,
	last_name, email, email_lc, language, state, deactivated_reason, source, anchor, dn, upn,
	upn_lc, sam_account_name, profile, custom_privileges, units, superuser, fields,
	pinned_profile, pinned_units, password_hash, password_history, password_changed_at,
	password_expires_at, password_never_expires, must_change_password, account_expires_at,
	emergency, expires_at, updated_at, search_lc, id, created_at, version)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

const updateUser = `UPDATE users SET username = ?, username_lc = ?, display_name = ?,
	first_name = ?, last_name = ?, email = ?, email_lc = ?, language = ?, state = ?,
	deactivated_reason = ?, source = ?, anchor = ?, dn = ?, upn = ?, upn_lc = ?,
	sam_account_name = ?, profile = ?, custom_privileges = ?, units = ?, superuser = ?,
	fields = ?, pinned_profile = ?, pinned_units = ?, password_hash = ?, password_history = ?,
	password_changed_at = ?, password_expires_at = ?, password_never_expires = ?,
	must_change_password = ?, account_expires_at = ?, emergency = ?, expires_at = ?,
	updated_at = ?, search_lc = ?, version = version + 1
	WHERE id = ? AND version = ?`

func (o ops) getUser(ctx context.Context, what, where string, arg any) (store.User, error) {
	u, err := scanUser(o.q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: get user %s %q: %w", what, arg, classify(ctx, err))
	}
	return u, nil
}

// GetUser returns the user with id.
func (o ops) GetUser(ctx context.Context, id string) (store.User, error) {
	return o.getUser(ctx, "id", "id = ?", id)
}

// GetUserByUsername returns the user with username, compared without case.
func (o ops) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return o.getUser(ctx, "username", "username_lc = ?", codec.Fold(username))
}

// FindUsers returns the users whose key equals value.
func (o ops) FindUsers(ctx context.Context, key store.UserKey, value string) ([]store.User, error) {
	var where string
	arg := any(value)
	switch key {
	case store.KeyUsername:
		where, arg = "username_lc = ?", codec.Fold(value)
	// The "<> ''" terms repeat the partial indexes' conditions: SQLite
	// uses a partial index only when the query implies its WHERE, and
	// "x = ?" alone does not (the value could be ''), which made every
	// such lookup a scan of the whole table.
	case store.KeyEmail:
		where, arg = "email_lc = ? AND email_lc <> ''", codec.Fold(value)
	case store.KeyUPN:
		where, arg = "upn_lc = ? AND upn_lc <> ''", codec.Fold(value)
	case store.KeyAnchor:
		where = "anchor = ? AND anchor <> ''"
	case store.KeySAM:
		where = "sam_account_name = ? AND sam_account_name <> ''"
	default:
		return nil, fmt.Errorf("sqlite: find users: unknown key %q", key)
	}
	if value == "" {
		// Empty values are "not set", never a match.
		return nil, nil
	}
	return o.listUsers(ctx, "find users by "+string(key), 0,
		`SELECT `+userCols+` FROM users WHERE `+where+` ORDER BY username_lc, id`, arg)
}

// repeat makes *s the string *last holds when they are equal, and else
// remembers *s in *last: a column most rows give the same value (a
// source, a state, a profile) is then held once rather than once per row
// of a listing of 100,000.
func repeat(s, last *string) {
	if *s == *last {
		*s = *last
	} else {
		*last = *s
	}
}

// bigList is the row count from which a listing is counted before it
// is read (see ListUsers).
const bigList = 1024

// listUsers runs query; size, when known, is about how many rows it gives.
func (o ops) listUsers(ctx context.Context, what string, size int, query string, args ...any) ([]store.User, error) {
	return codec.Collect(size, func(fn func(store.User) error) error { return o.eachUser(ctx, what, query, args, fn) })
}

// eachUser runs query and gives fn each user as its row is read.
func (o ops) eachUser(ctx context.Context, what, query string, args []any, fn func(store.User) error) error {
	rows, err := o.q.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, classify(ctx, err))
	}
	defer rows.Close()
	var last store.User // repeated values are kept once (see repeat)
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, classify(ctx, err))
		}
		repeat(&u.Source, &last.Source)
		repeat((*string)(&u.State), (*string)(&last.State))
		repeat(&u.Profile, &last.Profile)
		repeat(&u.Language, &last.Language)
		repeat(&u.DeactivatedReason, &last.DeactivatedReason)
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, classify(ctx, err))
	}
	return nil
}

func userWhere(f store.UserFilter) (string, []any) {
	var conds []string
	var args []any
	if f.Source != "" {
		conds = append(conds, "source = ?")
		args = append(args, f.Source)
	}
	if f.State != "" {
		conds = append(conds, "state = ?")
		args = append(args, string(f.State))
	}
	if f.Profile != "" {
		conds = append(conds, "profile = ?")
		args = append(args, f.Profile)
	}
	if f.Query != "" {
		conds = append(conds, "instr(search_lc, ?) > 0")
		args = append(args, codec.Fold(f.Query))
	}
	if f.InTeams {
		if len(f.Teams) == 0 {
			conds = append(conds, "0")
		} else {
			// user_units (kept by triggers) is indexed by unit.
			conds = append(conds, "id IN (SELECT user_id FROM user_units WHERE unit IN (?"+strings.Repeat(",?", len(f.Teams)-1)+"))")
			for _, t := range f.Teams {
				args = append(args, t)
			}
		}
	}
	if !f.LockedAt.IsZero() {
		conds = append(conds, "id IN (SELECT user_id FROM lockouts WHERE locked_until > ?)")
		args = append(args, tm(codec.Time(f.LockedAt)))
	}
	if !f.ExpiringUntil.IsZero() {
		// A zero From is the dawn of time: every expiry before Until.
		from, until := codec.Time(f.ExpiringFrom).UnixMicro(), tm(codec.Time(f.ExpiringUntil))
		if f.ExpiringFrom.IsZero() {
			from = math.MinInt64
		}
		conds = append(conds, "((password_expires_at >= ? AND password_expires_at < ?) OR (account_expires_at >= ? AND account_expires_at < ?))")
		args = append(args, from, until, from, until)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListUsers returns the users f selects, ordered by username.
func (o ops) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	q, args := usersQuery(f)
	// A whole listing is counted first and read into a slice of that size:
	// users are large, and a growing slice of 100,000 of them is copied
	// over and over, old and new copies held at once. (The count is a
	// hint; rows added in between still fit.)
	size := 0
	if f.Limit <= 0 && f.Offset <= 0 {
		if n, err := o.CountUsers(ctx, f); err == nil && n >= bigList {
			size = n
		}
	}
	return o.listUsers(ctx, "list users", size, q, args...)
}

// EachUser gives fn each user f selects, in ListUsers' order, as it is
// read.
func (o ops) EachUser(ctx context.Context, f store.UserFilter, fn func(store.User) error) error {
	q, args := usersQuery(f)
	return o.eachUser(ctx, "list users", q, args, fn)
}

// usersQuery is the SELECT of ListUsers and EachUser.
func usersQuery(f store.UserFilter) (string, []any) {
	where, args := userWhere(f)
	return page(`SELECT `+userCols+` FROM users`+where+` ORDER BY username_lc, id`, args, f.Limit, f.Offset)
}

// page adds LIMIT and OFFSET to q when either is set; a limit of 0 or
// less is no limit.
func page(q string, args []any, limit, offset int) (string, []any) {
	if limit <= 0 && offset <= 0 {
		return q, args
	}
	if limit <= 0 {
		limit = -1
	}
	return q + ` LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))
}

// CountUsers counts the users f selects, ignoring Limit and Offset.
func (o ops) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	where, args := userWhere(f)
	var n int
	if err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM users`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", classify(ctx, err))
	}
	return n, nil
}

// CreateUser inserts u.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	c := *u
	if err := codec.PrepareNewUser(&c, codec.Now()); err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", c.Username, err)
	}
	args, err := userArgs(&c)
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", c.Username, err)
	}
	args = append(args, c.ID, tm(c.CreatedAt), c.Version)
	if _, err := t.q.exec(ctx, insertUser, args...); err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", c.Username, classify(ctx, err))
	}
	*u = c
	return nil
}

// UpdateUser writes u if u.Version is current.
func (t *txn) UpdateUser(ctx context.Context, u *store.User) error {
	c := *u
	c.UpdatedAt = codec.Now()
	codec.NormaliseUser(&c)
	args, err := userArgs(&c)
	if err != nil {
		return fmt.Errorf("sqlite: update user %s: %w", c.ID, err)
	}
	args = append(args, c.ID, c.Version)
	res, err := t.q.exec(ctx, updateUser, args...)
	if err != nil {
		return fmt.Errorf("sqlite: update user %s: %w", c.ID, classify(ctx, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		err := t.q.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, c.ID).Scan(&one)
		if err != nil {
			return fmt.Errorf("sqlite: update user %s: %w", c.ID, classify(ctx, err))
		}
		return fmt.Errorf("sqlite: update user %s: version %d is stale: %w", c.ID, c.Version, store.ErrConflict)
	}
	c.Version++
	*u = c
	return nil
}

// DeleteUser removes a user; its sessions, keys, lock-out and IdP links go
// with it (ON DELETE CASCADE) and directory entries mapped to it become
// unmapped.
func (t *txn) DeleteUser(ctx context.Context, id string) error {
	return t.execOne(ctx, "delete user "+id, `DELETE FROM users WHERE id = ?`, id)
}

// execOne runs a DELETE/UPDATE that must touch exactly one row.
func (t *txn) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := t.q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, classify(ctx, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, store.ErrNotFound)
	}
	return nil
}
