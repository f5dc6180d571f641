package oidc_test

import (
	"context"
	"log"
	"net/http"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/oidc"
	"github.com/dirbridge/dirbridge/store"
)

// How the daemon wires the RP: build it from configuration, build the
// sso.Service with it as a method, hand the Service back as the finish
// step, and let Service.Run start it (discovery).
func Example() {
	var st store.Store // the daemon's store (sqlite or postgres)
	rp, err := oidc.New(oidc.Options{
		Label:        "Sign in with Entra ID",
		PublicURL:    "https://sso.example.com",
		Preset:       oidc.PresetAzureAD,
		TenantID:     "72f988bf-86f1-41af-91ab-2d7cd011db47", // issuer derived from it
		ClientID:     "<application id>",
		ClientSecret: "<from client_secret_file>",
		Store:        st,
		Logger:       zap.NewNop(),
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := sso.New(sso.Options{Store: st, PublicURL: "https://sso.example.com", Methods: []sso.RedirectMethod{rp} /* , Hasher: ... */})
	if err != nil {
		log.Fatal(err)
	}
	rp.SetFinisher(svc)
	go func() { _ = svc.Run(context.Background()) }()
	_ = http.ListenAndServe(":8080", svc)
}
