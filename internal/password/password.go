// Package password hashes and verifies local passwords with argon2id.
//
// Hashes are PHC strings ($argon2id$v=19$m=65536,t=3,p=4$salt$key) so the
// parameters travel with each hash: raising them in config makes new hashes
// stronger while old ones still verify (NeedsRehash says when to upgrade at
// the next successful sign-in).
//
// argon2id is deliberately memory-hungry, so a flood of sign-ins could
// exhaust memory if every request hashed at once. A Hasher bounds the
// number of concurrent hash computations with a semaphore; callers on a
// request path (sign-in, password change) should use a Hasher, not the
// package-level functions.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Iterations (time cost).
	Iterations uint32
	// Parallelism (lanes).
	Parallelism uint8
	// SaltLength and KeyLength in bytes.
	SaltLength uint32
	KeyLength  uint32
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB, t=3,
// p=4): strong, and still well under a second on a small server.
var DefaultParams = Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 4, SaltLength: 16, KeyLength: 32}

// Errors returned by Verify and Hash.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password does not match")
	// ErrMalformed means the stored hash is not an argon2id PHC string this
	// package understands. It is a data problem, not a wrong password.
	ErrMalformed = errors.New("malformed password hash")
)

// Limits on parameters read from a stored hash, so a corrupted or hostile
// hash cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory     = 4 * 1024 * 1024 // 4 GiB in KiB
	maxIterations = 64
	maxKeyLength  = 1024
)

// Validate reports parameters that are unusable.
func (p Params) Validate() error {
	switch {
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory == 0:
		return fmt.Errorf("argon2id memory %d KiB is below 8 KiB per lane", p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory %d KiB is above the limit of %d KiB", p.Memory, maxMemory)
	case p.Iterations == 0 || p.Iterations > maxIterations:
		return fmt.Errorf("argon2id iterations %d out of range 1..%d", p.Iterations, maxIterations)
	case p.Parallelism == 0:
		return errors.New("argon2id parallelism must be at least 1")
	case p.SaltLength < 8:
		return fmt.Errorf("argon2id salt length %d is below 8 bytes", p.SaltLength)
	case p.KeyLength < 16 || p.KeyLength > maxKeyLength:
		return fmt.Errorf("argon2id key length %d out of range 16..%d", p.KeyLength, maxKeyLength)
	}
	return nil
}

// Hash returns the argon2id PHC string of pw with a fresh random salt.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against an encoded hash. It returns nil on a match,
// ErrMismatch on a wrong password and an error wrapping ErrMalformed when
// the hash cannot be parsed. The key comparison is constant-time.
func Verify(encoded, pw string) error {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// p (or cannot be parsed), so a caller can re-hash after a successful sign-in.
func NeedsRehash(encoded string, p Params) bool {
	got, salt, key, err := Decode(encoded)
	if err != nil {
		return true
	}
	return got.Memory != p.Memory || got.Iterations != p.Iterations || got.Parallelism != p.Parallelism ||
		uint32(len(salt)) != p.SaltLength || uint32(len(key)) != p.KeyLength
}

// Decode parses an argon2id PHC string into its parameters, salt and key.
func Decode(encoded string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", ErrMalformed)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version %q", ErrMalformed, parts[2])
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return p, nil, nil, fmt.Errorf("%w: bad parameter %q", ErrMalformed, kv)
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: bad parameter %q", ErrMalformed, kv)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, fmt.Errorf("%w: parallelism %d", ErrMalformed, n)
			}
			p.Parallelism = uint8(n)
		default:
			return p, nil, nil, fmt.Errorf("%w: unknown parameter %q", ErrMalformed, k)
		}
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt: %w", ErrMalformed, err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: key: %w", ErrMalformed, err)
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, salt, key, nil
}

// Hasher hashes and verifies with at most a fixed number of computations
// at once; further callers wait (or give up when their context ends).
type Hasher struct {
	params Params
	sem    chan struct{}
}

// NewHasher returns a Hasher using p for new hashes and allowing at most
// maxConcurrent computations at once (runtime.NumCPU() when <= 0). Peak
// hashing memory is therefore about maxConcurrent × p.Memory.
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent)}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash is the package-level Hash, bounded by the semaphore.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return Hash(pw, h.params)
}

// Verify is the package-level Verify, bounded by the semaphore. A context
// error means no verdict was reached — never treat it as a wrong password.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	return Verify(encoded, pw)
}

// NeedsRehash reports whether encoded should be re-hashed with the
// Hasher's parameters.
func (h *Hasher) NeedsRehash(encoded string) bool { return NeedsRehash(encoded, h.params) }
