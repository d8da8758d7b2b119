package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/config"
	"github.com/partnerflow/partnerflow/metrics"
	"github.com/partnerflow/partnerflow/models"
)

// keys loads the payload codec and derives the signing key; dev keeps a generated codec key in
// the data dir, the production commands require PARTNERFLOW_CODEC_KEY.
func loadKeys(cfg config.Config, allowGenerate bool) (*codec.Codec, []byte, error) {
	var key []byte
	var err error
	switch {
	case cfg.CodecKey != "":
		key, err = codec.ParseKey(cfg.CodecKey)
	case allowGenerate:
		key, err = codec.LoadOrCreateKey(cfg.DataDir)
	default:
		err = errors.New("PARTNERFLOW_CODEC_KEY is required (32 random bytes, base64): " +
			"every workflow payload is encrypted with it")
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := codec.New(key)
	if err != nil {
		return nil, nil, err
	}
	signing := []byte(nil)
	if cfg.SigningKey != "" {
		if signing, err = codec.ParseKey(cfg.SigningKey); err != nil {
			return nil, nil, fmt.Errorf("PARTNERFLOW_SIGNING_KEY: %w", err)
		}
	} else {
		sum := sha256.Sum256(append([]byte("partnerflow signing key\x00"), key...))
		signing = sum[:]
	}
	return c, signing, nil
}

// openStore opens the app database and refuses a schema this binary does not know.
func openStore(ctx context.Context, cfg config.Config) (*models.Store, error) {
	store, err := models.Open(cfg.AppDatabase())
	if err != nil {
		return nil, err
	}
	if err := store.CheckSchema(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	return store, nil
}

// dialTemporal connects to the frontend with the codec, metrics and, for a hosted Temporal, an
// API key or mTLS.
func dialTemporal(
	ctx context.Context,
	cfg config.Config,
	address string,
	c *codec.Codec,
	reg *prometheus.Registry,
	logger log.Logger,
) (client.Client, io.Closer, error) {
	handler, closer := metrics.TemporalHandler(reg)
	opts := client.Options{
		HostPort:         address,
		Namespace:        cfg.TemporalNamespace,
		DataConverter:    c.DataConverter(),
		FailureConverter: c.FailureConverter(),
		MetricsHandler:   handler,
		Logger:           logger,
	}
	if cfg.TemporalAPIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.TemporalAPIKey)
	}
	tlsConfig, err := temporalTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts.ConnectionOptions.TLS = tlsConfig
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		_ = closer.Close()
		return nil, nil, fmt.Errorf("connect to Temporal at %s: %w", address, err)
	}
	return tc, closer, nil
}

func temporalTLS(cfg config.Config) (*tls.Config, error) {
	if cfg.TemporalTLSCert == "" && cfg.TemporalTLSCA == "" && cfg.TemporalAPIKey == "" {
		return nil, nil
	}
	t := &tls.Config{ServerName: cfg.TemporalTLSServerName, MinVersion: tls.VersionTLS12}
	if cfg.TemporalTLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TemporalTLSCert, cfg.TemporalTLSKey)
		if err != nil {
			return nil, fmt.Errorf("load TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	if cfg.TemporalTLSCA != "" {
		pem, err := os.ReadFile(cfg.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("read TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TEMPORAL_TLS_CA holds no PEM certificate")
		}
		t.RootCAs = pool
	}
	return t, nil
}

// The timeouts of every HTTP server the binary runs (the API, dev's, the metrics listener and
// the simulator): a slow or stalled client cannot hold a connection open for long.
const (
	// readHeaderTimeout bounds reading a request's headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request, body included (bodies are at most
	// PARTNERFLOW_MAX_BODY_BYTES).
	readTimeout = 30 * time.Second
	// writeTimeout bounds a response from the end of the request's headers; the slowest
	// handler (a checkout or an update that waits on a workflow) answers well within it.
	writeTimeout = 2 * time.Minute
	// idleTimeout closes a kept-alive connection with no request.
	idleTimeout = 2 * time.Minute
)

// newHTTPServer is an http.Server for h with the read, write and idle timeouts above.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
	}
}

// serveHTTP listens on addr and serves h until ctx ends, then shuts down gracefully.
func serveHTTP(
	ctx context.Context,
	addr string,
	h http.Handler,
	timeout time.Duration,
) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := newHTTPServer(h)
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return ln.Addr(), done, nil
}

// metricsMux serves /metrics without a key and /healthz, for a private listener.
func metricsMux(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", api.MetricsHandler(reg))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}
