package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// UserTemplate is what a new local user starts from (the config's
// mapping.user_templates): state, language, teams, profile and the e-mail
// domain that completes an empty address.
type UserTemplate struct {
	State       store.UserState
	Language    string
	Units       []string
	Profile     string
	EmailDomain string
}

// Inviter mails a new local user a link to choose their password (the
// forgotten-password token machinery): the administrator never sees nor
// mails a password.
type Inviter interface {
	SendSetPassword(ctx context.Context, u store.User) error
}

// CreateUserRequest creates one local user from a template with
// overrides. Invite (default true) mails the set-password link; without it
// the user signs in through an IdP or gets a password by reset.
type CreateUserRequest struct {
	Template    string   `json:"template,omitempty"`
	Username    string   `json:"username"`
	Email       string   `json:"email,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	FirstName   string   `json:"first_name,omitempty"`
	LastName    string   `json:"last_name,omitempty"`
	Language    string   `json:"language,omitempty"`
	Profile     *string  `json:"profile,omitempty"`
	Units       []string `json:"units,omitempty"`
	State       string   `json:"state,omitempty"`
	Invite      *bool    `json:"invite,omitempty"`
}

// CreateUserResponse is the user created and whether the invitation left.
type CreateUserResponse struct {
	User       User   `json:"user"`
	InviteSent bool   `json:"invite_sent"`
	InviteErr  string `json:"invite_error,omitempty"`
}

// newLocal is a local user about to be created, checked.
type newLocal struct {
	user store.User
	// privs are what its profile grants, for the grant check.
	privs []string
}

// buildLocal applies template t and the overrides, and checks the
// username policy, the profile (exists, the caller may grant it) and the
// teams (in the caller's reach).
func (s *Server) buildLocal(ctx context.Context, rd store.Reader, c *caller, actor Principal, t UserTemplate, in CreateUserRequest, field string) (newLocal, error) {
	u := store.User{
		Username: strings.TrimSpace(in.Username), Email: strings.TrimSpace(in.Email), DisplayName: in.DisplayName,
		FirstName: in.FirstName, LastName: in.LastName, Language: firstSet(in.Language, t.Language),
		Profile: t.Profile, Units: slices.Clone(t.Units), State: t.State, Source: store.SourceLocal,
	}
	if in.Profile != nil {
		u.Profile = *in.Profile
	}
	if in.Units != nil {
		u.Units = slices.Clone(in.Units)
	}
	if in.State != "" {
		u.State = store.UserState(in.State)
	}
	if u.State == "" {
		u.State = store.StateActive
	}
	if u.State != store.StateActive && u.State != store.StateInactive {
		return newLocal{}, fieldErr(field+"state", "state must be active or inactive")
	}
	if u.Email == "" && t.EmailDomain != "" {
		u.Email = u.Username + "@" + t.EmailDomain
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	if v := policy.CheckUsername(s.policies().Usernames, u.Username); len(v) > 0 {
		return newLocal{}, fieldErr(field+"username", "%s", policy.Messages(v))
	}
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		return newLocal{}, fieldErr(field+"email", "%q is not an e-mail address", u.Email)
	}
	var privs []string
	if u.Profile != "" {
		p, err := rd.GetProfile(ctx, u.Profile)
		if errors.Is(err, store.ErrNotFound) {
			return newLocal{}, fieldErr(field+"profile", "profile %q does not exist", u.Profile)
		}
		if err != nil {
			return newLocal{}, fmt.Errorf("get profile: %w", err)
		}
		privs = p.Privileges
		if err := s.checkGrant(c, profilePower(p), field+"profile"); err != nil {
			return newLocal{}, err
		}
	}
	if err := s.unitsInReach(actor, u.Units, field+"units"); err != nil {
		return newLocal{}, err
	}
	return newLocal{user: u, privs: privs}, nil
}

// unitsInReach refuses teams a scoped administrator does not reach: a
// user placed there would leave the administrator's scope with whatever it
// was given, or join a team whose rules (IP, headers) they do not own.
func (s *Server) unitsInReach(actor Principal, units []string, field string) error {
	r := actor.reachFor([]string{privilege.ManageUsers})
	if r.All {
		return nil
	}
	if len(units) == 0 {
		return fieldErr(field, "your manage_users is limited to some teams: the user must be in one of them")
	}
	for i, u := range units {
		if !r.Covers([]string{u}) {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "team %q is not one you administer", u)
		}
	}
	return nil
}

func (s *Server) template(name string) (UserTemplate, error) {
	if name == "" {
		return UserTemplate{}, nil
	}
	t, ok := s.templates[name]
	if !ok {
		names := slices.Sorted(maps.Keys(s.templates))
		return UserTemplate{}, fieldErr("template", "unknown user template %q (configured: %s)", name, strings.Join(names, ", "))
	}
	return t, nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in CreateUserRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "user:" + in.Username
	t, err := s.template(in.Template)
	if err != nil {
		return err
	}
	invite := in.Invite == nil || *in.Invite
	if invite && s.inviter == nil {
		return fieldErr("invite", "no mail is configured (policy.password_reset with smtp): create with \"invite\": false, or configure it")
	}
	ctx := r.Context()
	actor, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	nl, err := s.buildLocal(ctx, s.store, c, actor, t, in, "")
	if err != nil {
		return err
	}
	if invite && nl.user.Email == "" {
		return fieldErr("email", "an invitation needs an e-mail address (or a template with an e-mail domain)")
	}
	u := nl.user
	u.CreatedAt, u.UpdatedAt = s.now().UTC(), s.now().UTC()
	c.detail("template", in.Template)
	c.detail("profile", u.Profile)
	c.detail("units", u.Units)
	err = s.tx(ctx, c, "user.create", func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				e := errf(http.StatusConflict, CodeConflict, "a user named %q already exists", u.Username)
				e.E.Field = "username"
				return e
			}
			return fmt.Errorf("create user %s: %w", u.Username, err)
		}
		c.target = "user:" + u.Username
		return nil
	})
	if err != nil {
		return err
	}
	out := CreateUserResponse{User: toUser(u)}
	if invite {
		if err := s.inviter.SendSetPassword(ctx, u); err != nil {
			// The user exists; the administrator can send a reset later.
			s.log.Error("invite new user", zap.String("user", u.Username), zap.Error(err))
			out.InviteErr = "the invitation could not be sent; the user can use the forgotten-password link"
		} else {
			out.InviteSent = true
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// BulkGenerateRequest generates numbered local users from a template
// (the CRM seed's "Generate Bulk Users"). Pattern holds {n} where the
// number goes ({n:3} pads it to 3 digits); DryRun previews without
// creating. Passwords are random and must change at first sign-in; they
// are returned once, in this answer. (A username-as-password option, as
// some products offer, is not: it is a known password.)
type BulkGenerateRequest struct {
	Template    string   `json:"template,omitempty"`
	Count       int      `json:"count"`
	Pattern     string   `json:"pattern"`
	Start       int      `json:"start,omitempty"`
	EmailDomain string   `json:"email_domain,omitempty"`
	Profile     *string  `json:"profile,omitempty"`
	Units       []string `json:"units,omitempty"`
	State       string   `json:"state,omitempty"`
	DryRun      bool     `json:"dry_run,omitempty"`
}

// GeneratedUser is one user of a bulk generation.
type GeneratedUser struct {
	User     User   `json:"user"`
	Password string `json:"password,omitempty"`
}

// BulkGenerateResponse lists the users generated (or, in a dry run, that
// would be).
type BulkGenerateResponse struct {
	DryRun bool            `json:"dry_run"`
	Users  []GeneratedUser `json:"users"`
}

// maxBulk bounds one bulk request.
const maxBulk = 1000

var patternNumber = regexp.MustCompile(`\{n(?::(\d))?\}`)

func expandPattern(pattern string, n int) string {
	return patternNumber.ReplaceAllStringFunc(pattern, func(m string) string {
		width := 0
		if sub := patternNumber.FindStringSubmatch(m); sub[1] != "" {
			width, _ = strconv.Atoi(sub[1])
		}
		return fmt.Sprintf("%0*d", width, n)
	})
}

func (s *Server) handleBulkGenerate(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in BulkGenerateRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "users:" + in.Pattern
	switch {
	case in.Count < 1 || in.Count > maxBulk:
		return fieldErr("count", "count must be 1 to %d", maxBulk)
	case len(patternNumber.FindAllString(in.Pattern, -1)) != 1:
		return fieldErr("pattern", "pattern must hold {n} (or {n:3} for 3 digits) exactly once, e.g. agent{n:3}")
	case in.Start < 0:
		return fieldErr("start", "start must not be negative")
	}
	t, err := s.template(in.Template)
	if err != nil {
		return err
	}
	if in.EmailDomain != "" {
		t.EmailDomain = in.EmailDomain
	}
	ctx := r.Context()
	actor, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	out := BulkGenerateResponse{DryRun: in.DryRun, Users: make([]GeneratedUser, 0, in.Count)}
	var users []store.User
	seen := map[string]bool{}
	for i := range in.Count {
		name := expandPattern(in.Pattern, in.Start+i)
		field := fmt.Sprintf("users[%d].", i)
		if seen[strings.ToLower(name)] {
			return fieldErr("pattern", "the pattern gives %q twice", name)
		}
		seen[strings.ToLower(name)] = true
		nl, err := s.buildLocal(ctx, s.store, c, actor, t,
			CreateUserRequest{Username: name, Profile: in.Profile, Units: in.Units, State: in.State}, field)
		if err != nil {
			return err
		}
		if _, err := s.store.GetUserByUsername(ctx, name); err == nil {
			return fieldErr(field+"username", "a user named %q already exists", name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up %s: %w", name, err)
		}
		users = append(users, nl.user)
	}
	c.detail("count", in.Count)
	c.detail("pattern", in.Pattern)
	if in.DryRun {
		for _, u := range users {
			out.Users = append(out.Users, GeneratedUser{User: toUser(u)})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	passwords := make([]string, len(users))
	now := s.now().UTC()
	for i := range users {
		pw, err := RandomPassword(16)
		if err != nil {
			return err
		}
		hash, err := s.hasher.Hash(ctx, pw)
		if err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
		passwords[i] = pw
		users[i].PasswordHash, users[i].MustChangePassword, users[i].PasswordChangedAt = hash, true, now
		users[i].CreatedAt, users[i].UpdatedAt = now, now
	}
	err = s.tx(ctx, c, "user.bulk_generate", func(tx store.Tx) error {
		for i := range users {
			if err := tx.CreateUser(ctx, &users[i]); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return errf(http.StatusConflict, CodeConflict, "a user named %q already exists", users[i].Username)
				}
				return fmt.Errorf("create user %s: %w", users[i].Username, err)
			}
		}
		names := make([]string, len(users))
		for i, u := range users {
			names[i] = u.Username
		}
		c.detail("usernames", names)
		return nil
	})
	if err != nil {
		return err
	}
	for i, u := range users {
		out.Users = append(out.Users, GeneratedUser{User: toUser(u), Password: passwords[i]})
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// BulkUpdateRequest changes many users at once: state, profile, teams,
// all or nothing, in one audited transaction.
type BulkUpdateRequest struct {
	Users   []string  `json:"users"`
	State   string    `json:"state,omitempty"`
	Profile *string   `json:"profile,omitempty"`
	Units   *[]string `json:"units,omitempty"`
	DryRun  bool      `json:"dry_run,omitempty"`
}

// actions are what the request does to each user, for Authorize.
func (in BulkUpdateRequest) actions() []Action {
	var acts []Action
	switch in.State {
	case string(store.StateActive):
		acts = append(acts, ActActivate)
	case string(store.StateInactive):
		acts = append(acts, ActDeactivate)
	}
	if in.Profile != nil {
		acts = append(acts, ActUpdate)
	}
	if in.Units != nil {
		acts = append(acts, ActSetUnits)
	}
	return acts
}

// BulkUpdateResponse lists the users as they are (or would be) after.
type BulkUpdateResponse struct {
	DryRun bool   `json:"dry_run"`
	Users  []User `json:"users"`
}

func (s *Server) handleBulkUpdate(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in BulkUpdateRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "users:bulk"
	switch {
	case len(in.Users) == 0 || len(in.Users) > maxBulk:
		return fieldErr("users", "name 1 to %d users", maxBulk)
	case in.State != "" && in.State != string(store.StateActive) && in.State != string(store.StateInactive):
		return fieldErr("state", "state must be active or inactive")
	case in.State == "" && in.Profile == nil && in.Units == nil:
		return fieldErr("users", "nothing to change: give state, profile or units")
	}
	acts := in.actions()
	ctx := r.Context()
	out := BulkUpdateResponse{DryRun: in.DryRun, Users: make([]User, 0, len(in.Users))}
	c.detail("count", len(in.Users))
	c.detail("state", in.State)
	c.detail("profile", in.Profile)
	c.detail("units", in.Units)
	apply := func(tx store.Tx) error {
		actor, err := s.actorPrincipal(ctx, tx, c)
		if err != nil {
			return err
		}
		if in.Profile != nil && *in.Profile != "" {
			p, err := tx.GetProfile(ctx, *in.Profile)
			if errors.Is(err, store.ErrNotFound) {
				return fieldErr("profile", "profile %q does not exist", *in.Profile)
			}
			if err != nil {
				return fmt.Errorf("get profile: %w", err)
			}
			if err := s.checkGrant(c, profilePower(p), "profile"); err != nil {
				return err
			}
		}
		if in.Units != nil {
			if err := s.unitsInReach(actor, *in.Units, "units"); err != nil {
				return err
			}
		}
		var names []string
		for i, ref := range in.Users {
			u, err := s.findUser(r, tx, ref)
			if err != nil {
				return fieldErr(fmt.Sprintf("users[%d]", i), "unknown user %q", ref)
			}
			t, err := s.principal(ctx, tx, u)
			if err != nil {
				return err
			}
			for _, a := range acts {
				if err := Authorize(actor, t, a); err != nil {
					var ref *Refusal
					if errors.As(err, &ref) && ref.OutOfScope {
						c.detail("out_of_scope", true)
						return fieldErr(fmt.Sprintf("users[%d]", i), "unknown user %q", in.Users[i])
					}
					return errf(http.StatusForbidden, CodeForbidden, "%s", err)
				}
			}
			if in.State != "" && u.State != store.UserState(in.State) {
				u.State = store.UserState(in.State)
				u.DeactivatedReason = ""
				if u.State == store.StateInactive {
					u.DeactivatedReason = "deactivated by admin (bulk)"
					if _, err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
						return fmt.Errorf("revoke sessions of %s: %w", u.Username, err)
					}
				}
			}
			if in.Profile != nil && u.Profile != *in.Profile {
				u.Profile = *in.Profile
				if _, err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
					return fmt.Errorf("revoke sessions of %s: %w", u.Username, err)
				}
			}
			if in.Units != nil {
				u.Units = slices.Clone(*in.Units)
			}
			if !in.DryRun {
				if err := tx.UpdateUser(ctx, &u); err != nil {
					return storeErr(err, "user", u.Username)
				}
			}
			names = append(names, u.Username)
			out.Users = append(out.Users, toUser(u))
		}
		c.detail("usernames", names)
		return nil
	}
	if in.DryRun {
		// The same checks in a transaction that is rolled back.
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			if err := apply(tx); err != nil {
				return err
			}
			return errDryRun
		})
		if !errors.Is(err, errDryRun) {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	if err := s.tx(ctx, c, "user.bulk_update", apply); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// MePatch is what a user may change about themselves (with
// edit_own_details): display name, chat nickname, language.
type MePatch struct {
	DisplayName  *string `json:"display_name,omitempty"`
	ChatNickname *string `json:"chat_nickname,omitempty"`
	Language     *string `json:"language,omitempty"`
}

// FieldChatNickname is the User.Fields key of the chat nickname.
const FieldChatNickname = "chat_nickname"

var languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

func (s *Server) handlePatchMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in MePatch
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "user:" + c.User.Username
	for field, v := range map[string]*string{"display_name": in.DisplayName, "chat_nickname": in.ChatNickname} {
		if v != nil && (len(*v) > 200 || strings.ContainsAny(*v, "\r\n\x00")) {
			return fieldErr(field, "%s must be one line of at most 200 characters", field)
		}
	}
	if in.Language != nil && *in.Language != "" && !languageTag.MatchString(*in.Language) {
		return fieldErr("language", "%q is not a language tag such as en or fr-CA", *in.Language)
	}
	ctx := r.Context()
	var out User
	err := s.tx(ctx, c, "user.update_self", func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, c.User.ID)
		if err != nil {
			return storeErr(err, "user", c.User.Username)
		}
		changes := map[string]any{}
		if in.DisplayName != nil {
			u.DisplayName, changes["display_name"] = *in.DisplayName, *in.DisplayName
		}
		if in.Language != nil {
			u.Language, changes["language"] = *in.Language, *in.Language
		}
		if in.ChatNickname != nil {
			if u.Fields == nil {
				u.Fields = map[string]string{}
			}
			u.Fields[FieldChatNickname], changes["chat_nickname"] = *in.ChatNickname, *in.ChatNickname
		}
		c.detail("changes", changes)
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return storeErr(err, "user", u.Username)
		}
		out = toUser(u)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
