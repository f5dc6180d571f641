package kerberos

import (
	"context"
	"errors"
	"fmt"
	"github.com/jcmturner/gofork/encoding/asn1"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/dirbridge/dirbridge/store"
)

// Refusal codes, in the audit record's reason.
const (
	CodeMalformed    = "malformed_token"
	CodeWrongSPN     = "wrong_spn"
	CodeNoKey        = "undecryptable_ticket"
	CodeExpired      = "ticket_expired"
	CodeNotYetValid  = "ticket_not_yet_valid"
	CodeClockSkew    = "clock_skew"
	CodeReplay       = "replayed_authenticator"
	CodeBadAddress   = "wrong_client_address"
	CodeBadIntegrity = "bad_authenticator"
	CodeWrongRealm   = "wrong_realm"
	CodeBadPAC       = "invalid_pac"
	CodeUnknownUser  = "unknown_user"
	CodeAmbiguous    = "ambiguous_user"
	CodeDisabled     = "account_disabled"
	CodeSIDChanged   = "sid_changed"
	CodeUnavailable  = "store_unavailable"
)

// Refusal is why a Negotiate token did not sign anyone in.
type Refusal struct {
	Code   string
	Detail string
	// Principal is the client principal when the ticket got that far.
	Principal string
}

func (r *Refusal) Error() string {
	s := "kerberos " + r.Code + ": " + r.Detail
	if r.Principal != "" {
		s += " (principal " + r.Principal + ")"
	}
	return s
}

// Ticket is what a verified AP-REQ says about the client.
type Ticket struct {
	Name  string // the client principal's name, e.g. "alice"
	Realm string // the client's realm
	// From the PAC, when the ticket carries one whose server signature
	// verified with our key: the user's SID, UPN and sAMAccountName.
	PAC   bool
	SID   string
	UPN   string
	SAM   string
	EType int32
	KVNO  int
}

// Principal is name@REALM.
func (t Ticket) Principal() string { return t.Name + "@" + t.Realm }

func (t Ticket) claims(key string) map[string]any {
	c := map[string]any{"principal": t.Principal(), "pac": t.PAC, "etype": t.EType, "key_matched": key}
	if t.PAC {
		c["sid"], c["pac_upn"], c["pac_sam_account_name"] = t.SID, t.UPN, t.SAM
	}
	return c
}

// Kerberos mechanism OIDs a browser may name in a NegTokenInit: the
// standard one and the one Windows used by mistake and still sends.
var (
	oidKRB5   = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
	oidMSKRB5 = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}
)

// Accept checks a Negotiate token (SPNEGO NegTokenInit, or a bare
// Kerberos GSS token) and returns the client it authenticates. Every
// check names its own refusal code. The authenticator is remembered only
// once the ticket and authenticator have verified, so a forged token
// cannot fill the replay cache.
func (m *Method) Accept(ctx context.Context, raw []byte) (Ticket, *Refusal) {
	req, ref := apReq(raw)
	if ref != nil {
		return Ticket{}, ref
	}
	tkt := &req.Ticket
	if !tkt.SName.Equal(m.spn) || !strings.EqualFold(tkt.Realm, m.realm) {
		return Ticket{}, &Refusal{Code: CodeWrongSPN, Detail: fmt.Sprintf("the ticket is for %s@%s, this service is %s@%s",
			tkt.SName.PrincipalNameString(), tkt.Realm, m.spn.PrincipalNameString(), m.realm)}
	}
	t := Ticket{EType: tkt.EncPart.EType, KVNO: tkt.EncPart.KVNO}
	if _, err := req.Verify(m.opts.Keytab, m.opts.MaxClockSkew, types.HostAddress{}, nil); err != nil {
		if tkt.DecryptedEncPart.CName.NameString != nil {
			t.Name, t.Realm = tkt.DecryptedEncPart.CName.PrincipalNameString(), tkt.DecryptedEncPart.CRealm
		}
		ref := verifyRefusal(err, m.opts.MaxClockSkew.String())
		if t.Name != "" {
			ref.Principal = t.Principal()
		}
		return t, ref
	}
	t.Name, t.Realm = tkt.DecryptedEncPart.CName.PrincipalNameString(), tkt.DecryptedEncPart.CRealm
	if ref := m.checkReplay(ctx, req); ref != nil {
		ref.Principal = t.Principal()
		return t, ref
	}
	if _, ok := m.realms[strings.ToUpper(t.Realm)]; !ok {
		return t, &Refusal{Code: CodeWrongRealm, Principal: t.Principal(),
			Detail: fmt.Sprintf("realm %s is not one of sso.kerberos.realms", t.Realm)}
	}
	isPAC, pac, err := tkt.GetPACType(m.opts.Keytab, nil, m.pacLog)
	if isPAC && err != nil {
		return t, &Refusal{Code: CodeBadPAC, Principal: t.Principal(), Detail: "the PAC did not verify: " + err.Error()}
	}
	if isPAC {
		kvi := pac.KerbValidationInfo
		t.PAC = true
		t.SID = kvi.LogonDomainID.String() + "-" + strconv.FormatUint(uint64(kvi.UserID), 10)
		t.SAM = kvi.EffectiveName.Value
		if pac.UPNDNSInfo != nil {
			t.UPN = pac.UPNDNSInfo.UPN
		}
		if ci := pac.ClientInfo; ci != nil && !strings.EqualFold(ci.Name, t.Name) {
			return t, &Refusal{Code: CodeBadPAC, Principal: t.Principal(),
				Detail: fmt.Sprintf("the PAC names %q, the ticket %q", ci.Name, t.Name)}
		}
	}
	return t, nil
}

// apReq digs the Kerberos AP-REQ out of a Negotiate token.
func apReq(raw []byte) (messages.APReq, *Refusal) {
	mech := raw
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(raw); err == nil {
		if !st.Init {
			return messages.APReq{}, &Refusal{Code: CodeMalformed, Detail: "a SPNEGO response where an initial token belongs"}
		}
		init := st.NegTokenInit
		if !hasKRB5(init.MechTypes) || len(init.MechTokenBytes) == 0 {
			return messages.APReq{}, &Refusal{Code: CodeMalformed, Detail: "the SPNEGO token offers no Kerberos ticket"}
		}
		mech = init.MechTokenBytes
	}
	var k spnego.KRB5Token
	if err := k.Unmarshal(mech); err != nil {
		return messages.APReq{}, &Refusal{Code: CodeMalformed, Detail: "not a Kerberos GSS token: " + err.Error()}
	}
	if !k.IsAPReq() {
		return messages.APReq{}, &Refusal{Code: CodeMalformed, Detail: "the Kerberos token is not an AP-REQ"}
	}
	return k.APReq, nil
}

func hasKRB5(oids []asn1.ObjectIdentifier) bool {
	for _, o := range oids {
		if o.Equal(oidKRB5) || o.Equal(oidMSKRB5) {
			return true
		}
	}
	return false
}

// verifyRefusal names what gokrb5's AP-REQ check refused.
func verifyRefusal(err error, skew string) *Refusal {
	var ke messages.KRBError
	if !errors.As(err, &ke) {
		// gokrb5 reports a ticket it cannot decrypt as a plain error.
		return &Refusal{Code: CodeNoKey, Detail: "the keytab's key does not decrypt the ticket (wrong key version or password changed since the export?): " + err.Error()}
	}
	switch ke.ErrorCode {
	case errorcode.KRB_AP_ERR_SKEW:
		return &Refusal{Code: CodeClockSkew, Detail: "the authenticator's time is more than " + skew + " from ours"}
	case errorcode.KRB_AP_ERR_TKT_EXPIRED:
		return &Refusal{Code: CodeExpired, Detail: "the service ticket has expired"}
	case errorcode.KRB_AP_ERR_TKT_NYV:
		return &Refusal{Code: CodeNotYetValid, Detail: "the service ticket is not yet valid (or marked invalid)"}
	case errorcode.KRB_AP_ERR_BADADDR:
		return &Refusal{Code: CodeBadAddress, Detail: "the ticket is bound to other client addresses"}
	case errorcode.KRB_AP_ERR_BAD_INTEGRITY, errorcode.KRB_AP_ERR_BADMATCH:
		return &Refusal{Code: CodeBadIntegrity, Detail: ke.EText}
	}
	return &Refusal{Code: CodeMalformed, Detail: fmt.Sprintf("%s: %s", errorcode.Lookup(ke.ErrorCode), ke.EText)}
}

// replayNamespace is the store namespace of seen authenticators.
const replayNamespace = "kerberos-authenticator"

// checkReplay refuses an authenticator seen before: through the store
// when Options.Replay is set (every replica sharing it sees it), else
// through gokrb5's replay cache (this process only). An authenticator is
// accepted only within MaxClockSkew of its time, so it is remembered for
// twice that.
func (m *Method) checkReplay(ctx context.Context, req messages.APReq) *Refusal {
	a := req.Authenticator
	if m.opts.Replay == nil {
		if m.replay.IsReplay(req.Ticket.SName, a) {
			return &Refusal{Code: CodeReplay, Detail: "this authenticator was presented before (a replayed token)"}
		}
		return nil
	}
	ct := a.CTime.Add(time.Duration(a.Cusec) * time.Microsecond)
	key := strings.Join([]string{a.CName.PrincipalNameString() + "@" + a.CRealm,
		req.Ticket.SName.PrincipalNameString(), strconv.FormatInt(ct.UnixMicro(), 10)}, "\x00")
	err := m.opts.Replay.RecordOnce(ctx, replayNamespace, key, ct.Add(2*m.opts.MaxClockSkew))
	switch {
	case errors.Is(err, store.ErrConflict):
		return &Refusal{Code: CodeReplay, Detail: "this authenticator was presented before, here or at another replica (a replayed token)"}
	case err != nil:
		return &Refusal{Code: CodeUnavailable, Detail: fmt.Sprintf("record the authenticator: %v", err)}
	}
	return nil
}
