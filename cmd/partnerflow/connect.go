package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/partnerflow/partnerflow/connection"
)

// connectCommand connects partnerflow to Partner Center from a terminal, for installs without a
// browser at hand: Entra ID's device code sign-in, with the same checks as the dashboard's.
func connectCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "connect",
		Short: "Connect partnerflow to Partner Center as a global admin of the partner tenant (device code sign-in)",
		Long: "connect makes the App+User connection Microsoft requires for some Partner Center calls (the secure " +
			"application model): it prints a code and an address, a Global Administrator of the partner tenant signs " +
			"in there with MFA, and partnerflow keeps the refresh token sealed in DATABASE_URL. Flows waiting for " +
			"the connection resume at once. The dashboard's Partner Center page does the same in a browser.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := a.connect(ctx, requireTemporal(a), false)
			if err != nil {
				return err
			}
			defer e.Close()
			_, conn, err := a.partnerCenter(e.store, e.signingKey)
			if err != nil {
				return err
			}
			da, err := conn.Entra().DeviceAuth(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(
				out,
				"To connect Partner Center, open %s and enter the code %s,\n"+
					"then sign in as a Global Administrator of the partner tenant (with MFA).\n",
				da.VerificationURI,
				da.UserCode,
			)
			grant, err := conn.Entra().DeviceGrant(ctx, da)
			if err != nil {
				return err
			}
			row, err := conn.Connect(ctx, grant)
			if err != nil {
				return err
			}
			n, err := connection.ResumeWaitingFlows(ctx, e.temporal, a.cfg.PartnerCenterTenantID, a.logger)
			if err != nil {
				a.logger.Warn("could not tell the waiting flows; they resume at their next recheck", "error", err)
			}
			fmt.Fprintf(out, "Connected as %s; %d waiting flows resumed.\n", row.UPN, n)
			return nil
		},
	}
}
