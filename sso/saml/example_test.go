package saml_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/saml"
	"github.com/dirbridge/dirbridge/store"
)

// How the daemon wires the SP: build it from configuration, build the
// sso.Service with it as a method, hand the Service back as the finish
// step, and let Service.Run start it (IdP metadata fetch and refresh).
func Example() {
	var st store.Store // the daemon's store (sqlite or postgres)
	certPEM, _ := os.ReadFile("/etc/dirbridge/saml-sp.crt")
	keyPEM, _ := os.ReadFile("/etc/dirbridge/saml-sp.key")
	key, cert, err := saml.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	claims, err := saml.AttributesFromMap(map[string]string{"immutable_id": "http://schemas.example.com/claims/immutableid"})
	if err != nil {
		log.Fatal(err)
	}
	sp, err := saml.New(saml.Options{
		Label:           "Sign in with Entra ID",
		PublicURL:       "https://sso.example.com",
		Preset:          saml.PresetAzureAD,
		Attributes:      claims,
		IDPMetadataURL:  "https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml?appid=<app>",
		MetadataRefresh: time.Hour,
		Key:             key,
		Certificate:     cert,
		SignRequests:    true,
		Store:           st,
		Logger:          zap.NewNop(),
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := sso.New(sso.Options{Store: st, PublicURL: "https://sso.example.com", Methods: []sso.RedirectMethod{sp} /* , Hasher: ... */})
	if err != nil {
		log.Fatal(err)
	}
	sp.SetFinisher(svc)
	go func() { _ = svc.Run(context.Background()) }()
	_ = http.ListenAndServe(":8080", svc)
}
