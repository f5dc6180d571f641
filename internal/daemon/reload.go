package daemon

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// reloader applies a changed config on SIGHUP: what is safe to swap in a
// running daemon — profiles, mapping rules, IP rules, the password,
// lock-out, username and reset-link policies, the log level, and the
// server certificate re-read from the same files — is applied; everything
// else is compared with the config the daemon started with and named in a
// warning until the next restart.
type reloader struct {
	log     *zap.Logger
	path    string
	started *config.Config
	st      store.Store
	sync    wire.Sync
	signin  *sso.Service
	admin   *admin.Server
	// scim is the SCIM provisioning server; nil without provisioning.
	scim  *scim.Server
	level *zap.AtomicLevel
	// certs is the listener's certificate with server.tls; nil without.
	certs *certReloader
}

func (r *reloader) reload(ctx context.Context) {
	cfg, err := config.Load(r.path)
	if err != nil {
		r.log.Error("reload: config invalid; keeping the running one", zap.Error(err))
		return
	}
	var applied []string
	if err := wire.SeedProfiles(ctx, r.st, cfg, time.Now()); err != nil {
		r.log.Error("reload: profiles not re-applied", zap.Error(err))
	} else {
		applied = append(applied, "profiles")
	}
	if _, err := r.sync.ReloadMappers(cfg); err != nil {
		r.log.Error("reload: mapping invalid; keeping the running rules", zap.Error(err))
	} else {
		if r.scim != nil {
			r.scim.SetRules(cfg.ProvisioningRules())
		}
		applied = append(applied, "mapping")
	}
	if rules, err := wire.IPRules(cfg); err != nil {
		r.log.Error("reload: IP rules invalid; keeping the running ones", zap.Error(err))
	} else {
		r.signin.SetIPRules(rules)
		applied = append(applied, "policy.ip_rules")
	}
	applied = append(applied, r.reloadPolicies(cfg)...)
	if r.level != nil {
		if l, err := zap.ParseAtomicLevel(cfg.Log.Level); err == nil {
			r.level.SetLevel(l.Level())
			applied = append(applied, "log.level")
		}
	}
	if r.certs != nil {
		if err := r.certs.reload(); err != nil {
			r.log.Error("reload: server certificate not re-read; keeping the running one", zap.Error(err))
		} else {
			applied = append(applied, "server.tls certificate (same files)")
		}
	}
	r.log.Info("reload: applied", zap.String("settings", strings.Join(applied, ", ")))
	if restart := needRestart(r.started, cfg, r.level != nil); len(restart) > 0 {
		r.log.Warn("reload: these settings changed but need a restart; still running with the old ones",
			zap.String("settings", strings.Join(restart, ", ")))
	}
}

// needRestart lists the changed settings a reload cannot apply, compared
// with the config the daemon started with.
func needRestart(old, cfg *config.Config, levelApplied bool) []string {
	var out []string
	for _, section := range config.Changed(old, cfg) {
		switch section {
		case "profiles", "mapping":
			// Applied.
		case "log":
			a, b := old.Log, cfg.Log
			a.Level, b.Level = "", ""
			if !levelApplied || a != b {
				out = append(out, "log")
			}
		case "policy":
			a, b := old.Policy, cfg.Policy
			for _, p := range []*config.Policy{&a, &b} {
				p.IPRules, p.Password, p.Lockout, p.Username = nil, config.PasswordPolicy{}, config.Lockout{}, config.UsernamePolicy{}
				p.PasswordReset.TokenTTL = 0
			}
			if !reflect.DeepEqual(a, b) {
				out = append(out, "policy (other than ip_rules, password, lockout, username, password_reset.token_ttl)")
			}
		case "directories":
			if !sameDirectoriesButMapping(old.Directories, cfg.Directories) {
				out = append(out, "directories (other than mapping, default_profile, user_template)")
			}
		default:
			out = append(out, section)
		}
	}
	return out
}

// sameDirectoriesButMapping reports whether two directory lists differ at
// most in what reloadMappers applies.
func sameDirectoriesButMapping(a, b []config.Directory) bool {
	strip := func(ds []config.Directory) []config.Directory {
		out := slices.Clone(ds)
		for i := range out {
			out[i].Mapping, out[i].DefaultProfile, out[i].UserTemplate = config.DirectoryMapping{}, "", ""
		}
		return out
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// reloadPolicies swaps the sign-in and administration policies and names
// each one that changed, old and new value, in the log.
func (r *reloader) reloadPolicies(cfg *config.Config) []string {
	if r.signin == nil {
		return nil
	}
	before, after := r.signin.Policies(), wire.SignInPolicies(cfg)
	r.signin.SetPolicies(after)
	if r.admin != nil {
		r.admin.SetPolicies(wire.AdminPolicies(cfg))
	}
	changed := map[string][2]any{}
	if !reflect.DeepEqual(before.Password, after.Password) {
		changed["policy.password"] = [2]any{before.Password, after.Password}
	}
	if before.Lockout != after.Lockout {
		changed["policy.lockout"] = [2]any{before.Lockout, after.Lockout}
	}
	if before.Usernames != after.Usernames {
		changed["policy.username"] = [2]any{before.Usernames, after.Usernames}
	}
	if before.ResetTTL != after.ResetTTL {
		changed["policy.password_reset.token_ttl"] = [2]any{before.ResetTTL.String(), after.ResetTTL.String()}
	}
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		r.log.Info("reload: policy changed", zap.String("policy", name),
			zap.Any("old", changed[name][0]), zap.Any("new", changed[name][1]))
	}
	return []string{"policy.password", "policy.lockout", "policy.username", "policy.password_reset.token_ttl"}
}
