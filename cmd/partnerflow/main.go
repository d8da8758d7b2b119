// Command partnerflow runs partnerflow: `dev` runs everything in one process; `api`, `worker`
// and `migrate` are the production shape; `sim` serves the Partner Center simulator; `keys`
// mints API keys.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/partnerflow/partnerflow/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "partnerflow:", err)
		os.Exit(1)
	}
}

// app is what every subcommand shares: the configuration and the logger.
type app struct {
	cfg    config.Config
	logger *slog.Logger
	// devBanner is where dev prints its addresses (default os.Stdout); bench silences it.
	devBanner io.Writer
}

func rootCommand() *cobra.Command {
	a := &app{}
	var logLevel string
	root := &cobra.Command{
		Use:           "partnerflow",
		Short:         "Durable onboarding flows for Cloud Solution Provider partners, on Temporal",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			if f := cmd.Flags().Lookup("data-dir"); f != nil && f.Changed {
				cfg.DataDir = f.Value.String()
			}
			if f := cmd.Flags().Lookup("http-addr"); f != nil && f.Changed {
				cfg.HTTPAddr = f.Value.String()
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			a.cfg = cfg
			a.logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			slog.SetDefault(a.logger)
			return nil
		},
	}
	root.PersistentFlags().String("data-dir", "", "data directory (PARTNERFLOW_DATA_DIR)")
	root.PersistentFlags().String("http-addr", "", "API listen address (PARTNERFLOW_HTTP_ADDR)")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(
		devCommand(a),
		apiCommand(a),
		workerCommand(a),
		migrateCommand(a),
		simCommand(a),
		keysCommand(a),
		benchCommand(a),
		doctorCommand(a),
		connectCommand(a),
	)
	return root
}
