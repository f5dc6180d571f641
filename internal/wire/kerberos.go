package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/sso/kerberos"
	"github.com/dirbridge/dirbridge/store"
)

// Keytab reads sso.kerberos's keytab: keytab_file as it is, or keytab as
// base64.
func Keytab(cfg *config.Config) (*keytab.Keytab, error) {
	k := cfg.SSO.Kerberos
	if k == nil {
		return nil, errors.New("sso.kerberos is not configured")
	}
	var (
		raw   []byte
		field = "sso.kerberos.keytab_file"
		err   error
	)
	if k.KeytabFile != "" {
		if raw, err = os.ReadFile(k.KeytabFile); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
	} else {
		field = "sso.kerberos.keytab"
		if raw, err = base64.StdEncoding.DecodeString(strings.TrimSpace(k.Keytab.Value())); err != nil {
			return nil, fmt.Errorf("%s: not base64: %w", field, err)
		}
	}
	if !bytes.HasPrefix(raw, []byte{5, 2}) {
		return nil, fmt.Errorf("%s: not a keytab (version 0x502 expected)", field)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return kt, nil
}

// Kerberos builds SPNEGO sign-in from sso.kerberos; nil when it is not
// configured. Its finish step is set when the sso.Service exists.
//
// st is the store: users are resolved from it and authenticators are
// remembered in it, so a token replayed to another replica is refused too.
func Kerberos(cfg *config.Config, st store.Store, logger *zap.Logger) (*kerberos.Method, error) {
	k := cfg.SSO.Kerberos
	if k == nil {
		return nil, nil
	}
	kt, err := Keytab(cfg)
	if err != nil {
		return nil, err
	}
	realms := make(map[string]string, len(k.Realms))
	for _, r := range k.Realms {
		realms[r.Realm] = r.Directory
	}
	m, err := kerberos.New(kerberos.Options{
		Label: k.Label, Keytab: kt, ServicePrincipal: k.ServicePrincipal, Realms: realms,
		MaxClockSkew: k.MaxClockSkew, Users: st, Replay: st, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("sso.kerberos: %w", err)
	}
	return m, nil
}
