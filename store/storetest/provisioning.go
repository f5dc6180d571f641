package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// testProvisioningTokens pins the SCIM token rows: absent is ErrNotFound,
// a put reads back, a second put (rotation) replaces the hash, and a
// rolled-back rotation changes nothing.
func testProvisioningTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetProvisioningToken(ctx, "entra")
	isErr(t, "GetProvisioningToken before any", err, store.ErrNotFound)

	first := store.ProvisioningToken{Source: "entra", Hash: "aa11", CreatedAt: ts(1)}
	tx(t, s, func(tx store.Tx) error { return tx.PutProvisioningToken(ctx, first) })
	got, err := s.GetProvisioningToken(ctx, "entra")
	noErr(t, "GetProvisioningToken", err)
	equal(t, "token", got, first)

	before := time.Now().Add(-time.Second)
	tx(t, s, func(tx store.Tx) error {
		return tx.PutProvisioningToken(ctx, store.ProvisioningToken{Source: "entra", Hash: "bb22"})
	})
	got, err = s.GetProvisioningToken(ctx, "entra")
	noErr(t, "GetProvisioningToken after rotation", err)
	if got.Hash != "bb22" || got.CreatedAt.Before(before) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("rotated token = %+v", got)
	}

	errRollback := errors.New("rotation abandoned")
	err = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutProvisioningToken(ctx, store.ProvisioningToken{Source: "entra", Hash: "cc33"}); err != nil {
			return err
		}
		return errRollback
	})
	isErr(t, "rolled-back rotation", err, errRollback)
	got, err = s.GetProvisioningToken(ctx, "entra")
	noErr(t, "GetProvisioningToken after rollback", err)
	equal(t, "hash after a rolled-back rotation", got.Hash, "bb22")

	_, err = s.GetProvisioningToken(ctx, "okta")
	isErr(t, "another source's token", err, store.ErrNotFound)
	if err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.PutProvisioningToken(ctx, store.ProvisioningToken{Source: "okta"})
	}); err == nil {
		t.Fatal("PutProvisioningToken without a hash succeeded")
	}
}
