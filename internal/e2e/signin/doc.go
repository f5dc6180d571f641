// Package signine2e proves direct sign-in end to end against a real Samba
// AD domain controller: AD pass-through and its refusals (wrong password,
// disabled, expired, must change, account expired, locked in AD), the
// lock-out policy and an administrator's unlock, a directory outage that
// must not count toward lock-out, password changes written to AD, IP
// authorisation rules with real client addresses, and client-certificate
// sign-in over real TLS. Users reach the store through the real sync
// (internal/wire -> sync/engine); sign-in goes through the sso handlers
// over HTTP. It holds tests only.
package signine2e
