package saml

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
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
	ed, err := parseIDPMetadata(data)
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
// validUntil has passed is refused, as SAML metadata rules require.
func parseIDPMetadata(data []byte) (*crewsaml.EntityDescriptor, error) {
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
	return ed, nil
}
