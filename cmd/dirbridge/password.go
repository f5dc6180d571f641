package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// passwordCommands is `users reset-password`: an administrator's reset,
// of a local user in the store, of a directory user in the directory.
func passwordCommands() []*cobra.Command {
	var mustChange, fromStdin bool
	reset := apiCmd("reset-password NAME [--must-change] [--password-stdin]",
		"Reset a user's password (audited): a local user's here, a directory user's in the directory; without --password-stdin a random one is made and printed once",
		"  dirbridge users reset-password jdoe --must-change\n  printf '%s\\n' \"$NEWPW\" | dirbridge users reset-password jdoe --password-stdin",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().BoolVar(&mustChange, "must-change", false, "require a change at the next sign-in (AD: pwdLastSet=0); local users always must; default for directory users: no")
			c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from the first line of standard input (never from the command line)")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			var in admin.PasswordResetRequest
			if cmd.Flags().Changed("must-change") {
				in.MustChange = &mustChange
			}
			if fromStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				line = strings.TrimRight(line, "\r\n")
				if line == "" {
					if err != nil {
						return fmt.Errorf("read the password from standard input: %w", err)
					}
					return errors.New("standard input holds an empty password")
				}
				in.Password = line
			}
			var out admin.PasswordResetResponse
			if err := c.do(cmd.Context(), "POST", "/api/v1/users/"+url.PathEscape(a[0])+"/password", in, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			w := cmd.OutOrStdout()
			where := "here"
			if out.Directory != "" {
				where = "in directory " + out.Directory
			}
			fmt.Fprintf(w, "%s: password reset %s; must change at next sign-in: %v\n", a[0], where, out.MustChangePassword)
			if out.Password != "" {
				fmt.Fprintf(w, "new password (shown once): %s\n", out.Password)
			}
			for _, warn := range out.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", warn)
			}
			return nil
		})
	return []*cobra.Command{reset}
}
