package saml

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"go.uber.org/zap"
)

// maxMetadataBytes bounds an IdP metadata document; federation aggregates
// are larger, but an SP is configured with one IdP's metadata.
const maxMetadataBytes = 4 << 20

// Start loads the IdP metadata (URL or file) and reloads it every
// MetadataRefresh until ctx ends. The first load must succeed; a failed
// refresh keeps the last good copy and logs.
func (sp *ServiceProvider) Start(ctx context.Context) error {
	if sp.opts.Finisher == nil {
		return fmt.Errorf("saml %s: no finisher set", sp.opts.Name)
	}
	if len(sp.opts.IDPMetadata) > 0 {
		return nil
	}
	if err := sp.loadMetadata(ctx); err != nil {
		return fmt.Errorf("saml %s: %w", sp.opts.Name, err)
	}
	go sp.refreshLoop(ctx)
	return nil
}

func (sp *ServiceProvider) refreshLoop(ctx context.Context) {
	t := time.NewTicker(sp.opts.MetadataRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sp.loadMetadata(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				sp.log.Warn("IdP metadata refresh failed; keeping the last good copy", zap.Error(err))
			}
		}
	}
}

func (sp *ServiceProvider) loadMetadata(ctx context.Context) error {
	var data []byte
	var err error
	if sp.opts.IDPMetadataURL != "" {
		data, err = sp.fetchMetadata(ctx)
	} else {
		data, err = os.ReadFile(sp.opts.IDPMetadataFile)
		if err != nil {
			err = fmt.Errorf("read IdP metadata: %w", err)
		}
	}
	if err != nil {
		return err
	}
	ed, err := parseIDPMetadata(data, sp.opts.IDPCertSHA256)
	if err != nil {
		return err
	}
	sp.idp.Store(ed)
	sp.log.Info("IdP metadata loaded", zap.String("idp", ed.EntityID))
	return nil
}

func (sp *ServiceProvider) fetchMetadata(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sp.opts.IDPMetadataURL, nil)
	if err != nil {
		return nil, fmt.Errorf("IdP metadata URL: %w", err)
	}
	resp, err := sp.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch IdP metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch IdP metadata: %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read IdP metadata: %w", err)
	}
	if len(data) > maxMetadataBytes {
		return nil, fmt.Errorf("IdP metadata larger than %d bytes", maxMetadataBytes)
	}
	return data, nil
}

// parseIDPMetadata parses an EntityDescriptor (or the first IdP in an
// EntitiesDescriptor) and insists on what sign-in needs: an entity ID, a
// signing certificate and a redirect SSO endpoint. Metadata whose
// validUntil has passed is refused, as SAML metadata rules require. With
// pins, signing certificates not pinned are dropped, and metadata left
// without one is refused.
func parseIDPMetadata(data []byte, pins [][sha256.Size]byte) (*crewsaml.EntityDescriptor, error) {
	// The same guard as responses: no DTD, bounded depth.
	sc := scanner{maxDepth: 64}
	if err := sc.scanAny(data); err != nil {
		return nil, fmt.Errorf("IdP metadata: %w", err)
	}
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("parse IdP metadata: %w", err)
	}
	if ed.EntityID == "" {
		return nil, errors.New("IdP metadata has no entityID")
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("IdP metadata has no IDPSSODescriptor")
	}
	if !ed.ValidUntil.IsZero() && ed.ValidUntil.Before(time.Now()) {
		return nil, fmt.Errorf("IdP metadata expired at %s", ed.ValidUntil.UTC().Format(time.RFC3339))
	}
	certs := 0
	for _, d := range ed.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use == "" || kd.Use == "signing" {
				certs += len(kd.KeyInfo.X509Data.X509Certificates)
			}
		}
	}
	if certs == 0 {
		return nil, errors.New("IdP metadata has no signing certificate")
	}
	if len(pins) > 0 {
		if err := keepPinned(ed, pins); err != nil {
			return nil, err
		}
	}
	return ed, nil
}

// keepPinned removes from ed every signing certificate whose SHA-256
// fingerprint is not pinned, so the SAML library trusts only pinned ones.
// Metadata with no pinned signing certificate is an error naming what it
// carried: a refresh that fails this keeps the last good copy.
func keepPinned(ed *crewsaml.EntityDescriptor, pins [][sha256.Size]byte) error {
	var seen []string
	kept := 0
	for i := range ed.IDPSSODescriptors {
		d := &ed.IDPSSODescriptors[i]
		var kds []crewsaml.KeyDescriptor
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				kds = append(kds, kd)
				continue
			}
			var certs []crewsaml.X509Certificate
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					return fmt.Errorf("IdP metadata: signing certificate: %w", err)
				}
				fp := sha256.Sum256(der)
				if slices.Contains(pins, fp) {
					certs = append(certs, c)
					continue
				}
				seen = append(seen, hex.EncodeToString(fp[:]))
			}
			if len(certs) > 0 {
				kd.KeyInfo.X509Data.X509Certificates = certs
				kds = append(kds, kd)
				kept += len(certs)
			}
		}
		d.KeyDescriptors = kds
	}
	if kept == 0 {
		return fmt.Errorf("IdP metadata: no signing certificate matches sso.saml.idp_cert_sha256 (metadata carries sha256 %s)", strings.Join(seen, ", "))
	}
	return nil
}
