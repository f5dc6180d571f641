package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// params returns "$from,$from+1,...", n placeholders.
func params(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

const userCols = `id, username, display_name, first_name, last_name, email, language, state,
	deactivated_reason, source, anchor, dn, upn, sam_account_name, profile, custom_privileges,
	units, superuser, fields, pinned_profile, pinned_units, password_hash, password_history,
	password_changed_at, password_expires_at, password_never_expires, must_change_password,
	account_expires_at, emergency, expires_at, created_at, updated_at, version`

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
	if u.CustomPrivileges, err = codec.Strings(custom); err != nil {
		return u, err
	}
	if u.Units, err = codec.Strings(units); err != nil {
		return u, err
	}
	if u.Fields, err = codec.StringMap(fields); err != nil {
		return u, err
	}
	if u.PasswordHistory, err = codec.Strings(hist); err != nil {
		return u, err
	}
	return u, nil
}

// userSetCols are the columns userArgs fills, in its order.
var userSetCols = []string{"username", "username_lc", "display_name", "first_name", "last_name",
	"email", "email_lc", "language", "state", "deactivated_reason", "source", "anchor", "dn", "upn",
	"upn_lc", "sam_account_name", "profile", "custom_privileges", "units", "superuser", "fields",
	"pinned_profile", "pinned_units", "password_hash", "password_history", "password_changed_at",
	"password_expires_at", "password_never_expires", "must_change_password", "account_expires_at",
	"emergency", "expires_at", "updated_at", "search_lc"}

// userArgs are the values of every column but id, created_at and version,
// in userSetCols' order.
func userArgs(u *store.User) ([]any, error) {
	custom, err := codec.JSON(u.CustomPrivileges)
	if err != nil {
		return nil, err
	}
	units, err := codec.JSON(u.Units)
	if err != nil {
		return nil, err
	}
	fields, err := codec.JSON(u.Fields)
	if err != nil {
		return nil, err
	}
	hist, err := codec.JSON(u.PasswordHistory)
	if err != nil {
		return nil, err
	}
	return []any{
		u.Username, codec.Fold(u.Username), u.DisplayName, u.FirstName, u.LastName, u.Email,
		codec.Fold(u.Email), u.Language, string(u.State), u.DeactivatedReason, u.Source, u.Anchor,
		u.DN, u.UPN, codec.Fold(u.UPN), u.SAMAccountName, u.Profile, custom, units,
		u.Superuser, fields, u.PinnedProfile, u.PinnedUnits, u.PasswordHash, hist,
		tm(u.PasswordChangedAt), tm(u.PasswordExpiresAt), u.PasswordNeverExpires,
		u.MustChangePassword, tm(u.AccountExpiresAt), u.Emergency, tm(u.ExpiresAt),
		tm(u.UpdatedAt), searchKey(u),
	}, nil
}

// searchSep separates the fields of the search key. codec.SearchKey's NUL
// cannot be stored in a PostgreSQL text column; the unit separator is the
// next best byte no query contains (a query that does matches nothing).
const searchSep = "\x1f"

// searchKey is codec.SearchKey with searchSep between the fields.
func searchKey(u *store.User) string {
	return strings.ReplaceAll(codec.SearchKey(u), "\x00", searchSep)
}

var (
	insertUser = `INSERT INTO users (` + strings.Join(userSetCols, ", ") + `, id, created_at, version)
	VALUES (` + params(1, len(userSetCols)+3) + `) ON CONFLICT DO NOTHING`

	// updateUser writes nothing, rather than fail, when the new username
	// or (source, anchor) belongs to another user.
	updateUser = func() string {
		var sets []string
		for i, c := range userSetCols {
			sets = append(sets, fmt.Sprintf("%s = $%d", c, i+1))
		}
		n := len(userSetCols)
		arg := func(col string) string { return "$" + strconv.Itoa(slices.Index(userSetCols, col)+1) }
		id := "$" + strconv.Itoa(n+1)
		return `UPDATE users SET ` + strings.Join(sets, ", ") + `, version = version + 1
		WHERE id = ` + id + ` AND version = $` + strconv.Itoa(n+2) + ` AND NOT EXISTS (SELECT 1 FROM users o
			WHERE o.id <> ` + id + ` AND (o.username_lc = ` + arg("username_lc") + ` OR (o.source = ` +
			arg("source") + ` AND o.anchor = ` + arg("anchor") + ` AND o.anchor <> '')))`
	}()
)

func (o ops) getUser(ctx context.Context, what, where string, arg string) (store.User, error) {
	if unstorable(arg) {
		return store.User{}, fmt.Errorf("postgres: get user %s %q: %w", what, arg, store.ErrNotFound)
	}
	u, err := scanUser(o.q.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user %s %q: %w", what, arg, classify(ctx, err))
	}
	return u, nil
}

// GetUser returns the user with id.
func (o ops) GetUser(ctx context.Context, id string) (store.User, error) {
	return o.getUser(ctx, "id", "id = $1", id)
}

// GetUserByUsername returns the user with username, compared without case.
func (o ops) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return o.getUser(ctx, "username", "username_lc = $1", codec.Fold(username))
}

// FindUsers returns the users whose key equals value.
func (o ops) FindUsers(ctx context.Context, key store.UserKey, value string) ([]store.User, error) {
	var where string
	arg := value
	switch key {
	case store.KeyUsername:
		where, arg = "username_lc = $1", codec.Fold(value)
	case store.KeyEmail:
		where, arg = "email_lc = $1", codec.Fold(value)
	case store.KeyUPN:
		where, arg = "upn_lc = $1", codec.Fold(value)
	case store.KeyAnchor:
		where = "anchor = $1 AND anchor <> ''"
	case store.KeySAM:
		where = "sam_account_name = $1"
	default:
		return nil, fmt.Errorf("postgres: find users: unknown key %q", key)
	}
	if value == "" || unstorable(value) {
		// Empty values are "not set", never a match; nothing stored
		// matches a value PostgreSQL text cannot hold.
		return nil, nil
	}
	return o.listUsers(ctx, "find users by "+string(key),
		`SELECT `+userCols+` FROM users WHERE `+where+` ORDER BY username_lc, id`, arg)
}

func (o ops) listUsers(ctx context.Context, what, query string, args ...any) ([]store.User, error) {
	return codec.Collect(0, func(fn func(store.User) error) error { return o.eachUser(ctx, what, query, args, fn) })
}

// eachUser runs query and gives fn each user as its row is read.
func (o ops) eachUser(ctx context.Context, what, query string, args []any, fn func(store.User) error) error {
	rows, err := o.q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, classify(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", what, classify(ctx, err))
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", what, classify(ctx, err))
	}
	return nil
}

func userWhere(f store.UserFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Source != "" {
		add("source = $%d", f.Source)
	}
	if f.State != "" {
		add("state = $%d", string(f.State))
	}
	if f.Profile != "" {
		add("profile = $%d", f.Profile)
	}
	if f.Query != "" {
		// strpos, not LIKE: the query is a plain substring, % and _
		// included.
		q := codec.Fold(f.Query)
		if strings.Contains(q, searchSep) || unstorable(q) {
			conds = append(conds, "false")
		} else {
			add("strpos(search_lc, $%d) > 0", q)
		}
	}
	if f.InTeams {
		if len(f.Teams) == 0 {
			conds = append(conds, "false")
		} else {
			// Served by the GIN index on units.
			add("units ?| $%d::text[]", f.Teams)
		}
	}
	if !f.LockedAt.IsZero() {
		add("id IN (SELECT user_id FROM lockouts WHERE locked_until > $%d)", tm(codec.Time(f.LockedAt)))
	}
	if !f.ExpiringUntil.IsZero() {
		// A zero From is the dawn of time: every expiry before Until.
		from := any(codec.Time(f.ExpiringFrom))
		if f.ExpiringFrom.IsZero() {
			from = "-infinity"
		}
		args = append(args, from, tm(codec.Time(f.ExpiringUntil)))
		from, until := len(args)-1, len(args)
		conds = append(conds, fmt.Sprintf("((password_expires_at >= $%d AND password_expires_at < $%d) OR (account_expires_at >= $%d AND account_expires_at < $%d))",
			from, until, from, until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// limitArg is a LIMIT value: NULL means no limit.
func limitArg(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

// ListUsers returns the users f selects, ordered by username.
func (o ops) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	q, args := usersQuery(f)
	return o.listUsers(ctx, "list users", q, args...)
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
	q := `SELECT ` + userCols + ` FROM users` + where + ` ORDER BY username_lc, id`
	if f.Limit > 0 || f.Offset > 0 {
		q += fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2)
		args = append(args, limitArg(f.Limit), max(f.Offset, 0))
	}
	return q, args
}

// CountUsers counts the users f selects, ignoring Limit and Offset.
func (o ops) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	where, args := userWhere(f)
	var n int
	if err := o.q.QueryRow(ctx, `SELECT COUNT(*) FROM users`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count users: %w", classify(ctx, err))
	}
	return n, nil
}

// CreateUser inserts u.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	c := *u
	if err := codec.PrepareNewUser(&c, codec.Now()); err != nil {
		return fmt.Errorf("postgres: create user %q: %w", c.Username, err)
	}
	args, err := userArgs(&c)
	if err != nil {
		return fmt.Errorf("postgres: create user %q: %w", c.Username, err)
	}
	args = append(args, c.ID, tm(c.CreatedAt), c.Version)
	if err := t.insertChecked(ctx, insertUser, "", nil, args...); err != nil {
		return fmt.Errorf("postgres: create user %q: %w", c.Username, err)
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
		return fmt.Errorf("postgres: update user %s: %w", c.ID, err)
	}
	args = append(args, c.ID, c.Version)
	tag, err := t.q.Exec(ctx, updateUser, args...)
	if err != nil {
		return fmt.Errorf("postgres: update user %s: %w", c.ID, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		var version int64
		err := t.q.QueryRow(ctx, `SELECT version FROM users WHERE id = $1`, c.ID).Scan(&version)
		if err != nil {
			return fmt.Errorf("postgres: update user %s: %w", c.ID, classify(ctx, err))
		}
		if version != c.Version {
			return fmt.Errorf("postgres: update user %s: version %d is stale: %w", c.ID, c.Version, store.ErrConflict)
		}
		return fmt.Errorf("postgres: update user %s: username %q or anchor %q is taken: %w", c.ID, c.Username, c.Anchor, store.ErrConflict)
	}
	c.Version++
	*u = c
	return nil
}

// DeleteUser removes a user; its sessions, keys, lock-out and IdP links go
// with it (ON DELETE CASCADE) and directory entries mapped to it become
// unmapped.
func (t *txn) DeleteUser(ctx context.Context, id string) error {
	return t.execOne(ctx, "delete user "+id, `DELETE FROM users WHERE id = $1`, id)
}

// execOne runs a DELETE/UPDATE that must touch exactly one row.
func (t *txn) execOne(ctx context.Context, what, query string, args ...any) error {
	tag, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

// execN runs a DELETE/UPDATE and reports how many rows it touched.
func (t *txn) execN(ctx context.Context, what, query string, args ...any) (int, error) {
	tag, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", what, classify(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}
