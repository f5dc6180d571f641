package directory

import "errors"

// The error contract of a directory. Readers (sync/ldap) return errors
// that wrap these sentinels, with their own context; callers (the sync
// engine, sign-in, administration) tell them apart with errors.Is and so
// never depend on a reader or an LDAP library. Each method of a reader
// says which of them it returns.
var (
	// ErrInvalidCredentials is a wrong password (or an unknown user,
	// told the same way). It is the only error that counts toward
	// lock-out: any other is an outage or a refusal with its own reason.
	ErrInvalidCredentials = errors.New("invalid credentials")

	// ErrUnavailable wraps every failure to reach a directory server: no
	// URL answered, a connection dropped, a request timed out. For
	// sign-in it is an outage, never a wrong password.
	ErrUnavailable = errors.New("directory unavailable")

	// ErrBindRefused is a service-account bind the directory refused
	// (wrong DN or password, account disabled). Failover stops there:
	// every server of a domain would give the same answer and retrying
	// could lock the account.
	ErrBindRefused = errors.New("service account bind refused")

	// ErrGroupNotFound is a group, named by DN, name or anchor, that the
	// directory does not hold; ErrGroupAmbiguous a name more than one
	// group answers to.
	ErrGroupNotFound  = errors.New("group not found")
	ErrGroupAmbiguous = errors.New("ambiguous")

	// ErrInsecureConnection refuses to send a password over plain LDAP.
	ErrInsecureConnection = errors.New("refusing to send a password over an unencrypted connection (use ldaps:// or StartTLS)")
)

// Refusals of a correct password (on AD, the "data NNN" sub-code of LDAP
// result 49). Each is its own outcome for sign-in and the audit log; none
// is ErrInvalidCredentials and none is an outage. ErrPasswordExpired and
// ErrMustChangePassword send the user down the change path.
var (
	ErrLogonTimeRestricted   = errors.New("sign-in not permitted at this time")       // AD 530
	ErrWorkstationRestricted = errors.New("sign-in not permitted from this computer") // AD 531
	ErrPasswordExpired       = errors.New("password expired")                         // AD 532
	ErrAccountDisabled       = errors.New("account disabled")                         // AD 533
	ErrAccountExpired        = errors.New("account expired")                          // AD 701
	ErrMustChangePassword    = errors.New("password must be changed")                 // AD 773
	ErrAccountLocked         = errors.New("account locked")                           // AD 775
)

// Outcomes of writing a password (change by the user, reset by an
// administrator).
var (
	// ErrPasswordPolicy is a new password the directory refused (length,
	// complexity, history, minimum age); the message says which when the
	// directory does.
	ErrPasswordPolicy = errors.New("new password refused by the directory's policy")
	// ErrNoSuchUser is a reset for a name the directory does not know.
	ErrNoSuchUser = errors.New("no such user in the directory")
	// ErrMustChangeNotSet means the new password was written but the
	// directory did not record that it must be changed at the next
	// sign-in (generic LDAP without a ppolicy that allows it).
	ErrMustChangeNotSet = errors.New("the password was reset, but the directory did not record that it must be changed")
)
