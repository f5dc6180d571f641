package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/internal/wire"
)

func ssoCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "sso", Short: "Single sign-on set-up helpers"})
	c.AddCommand(ssoMetadataCmd())
	return c
}

// ssoMetadataCmd prints the SAML SP metadata from the config alone, so an
// IdP administrator can register dirbridge before the daemon is started
// (the daemon refuses to start while it cannot load the IdP's metadata).
func ssoMetadataCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "metadata --config FILE",
		Short: "Print the SAML service-provider metadata (the same XML the daemon serves at /saml/metadata)",
		Long: "Print the SAML service-provider metadata built from the configuration alone: entity ID, " +
			"assertion consumer service URL and signing/encryption certificates. Give it to the IdP " +
			"(Entra ID: Enterprise application > Single sign-on > Upload metadata file; Okta: SAML settings).",
		Example: "  dirbridge sso metadata --config /etc/dirbridge/dirbridge.yaml > dirbridge-sp.xml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			xml, err := wire.SAMLMetadata(cfg)
			if err != nil {
				return fmt.Errorf("sso metadata: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(xml)
			return err
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	return c
}
