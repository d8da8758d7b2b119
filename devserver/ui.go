package devserver

import (
	"context"
	"fmt"
	"net"
	"strconv"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI serves the Web UI on its own port (it cannot be mounted under another router)
// and waits until it answers.
func (s *Server) startUI(ctx context.Context, c Config) error {
	host := c.IP
	if net.ParseIP(host).To4() == nil {
		// The UI joins host and port with a plain colon.
		host = "[" + host + "]"
	}
	uiCfg := &uiconfig.Config{
		Host:                host,
		Port:                c.UIPort,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    c.Namespace,
		// Served over plain HTTP, so its CSRF cookie must not be marked Secure.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true,
	}
	if c.CodecEndpoint != "" {
		// The codec endpoint authenticates the browser by its session cookie, which the
		// browser only sends cross-origin when asked to.
		uiCfg.Codec = uiconfig.Codec{Endpoint: c.CodecEndpoint, IncludeCredentials: true}
	}
	if err := uiCfg.Validate(); err != nil {
		return fmt.Errorf("devserver: web UI config: %w", err)
	}

	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(uiCfg))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		s.uiErr = s.ui.Start()
	}()

	s.uiURL = "http://" + net.JoinHostPort(c.dialIP(), strconv.Itoa(c.UIPort))
	if err := waitHTTP(ctx, s.uiURL+"/healthz", s.uiDone); err != nil {
		return fmt.Errorf("devserver: start web UI: %w", err)
	}
	return nil
}
