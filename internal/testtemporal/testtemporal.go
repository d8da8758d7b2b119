// Package testtemporal starts an in-process Temporal server for integration tests, with
// partnerflow's payload encryption and search attributes, and returns a client for it.
package testtemporal

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/worker"
)

// Key is the codec key integration tests encrypt payloads with.
var Key = bytes.Repeat([]byte{42}, codec.KeySize)

// Server is a running in-process Temporal server and an encrypting client of it.
type Server struct {
	Client client.Client
	Codec  *codec.Codec
	Test   *temporaltest.TestServer
}

// Start starts the server for the test; it stops when the test ends.
func Start(t *testing.T) *Server {
	t.Helper()
	c, err := codec.New(Key)
	if err != nil {
		t.Fatal(err)
	}
	quiet := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{
		DataConverter: c.DataConverter(), FailureConverter: c.FailureConverter(), Logger: quiet,
	}))
	cl := ts.GetDefaultClient()
	if err := worker.EnsureSearchAttributes(
		context.Background(),
		cl,
		ts.GetDefaultNamespace(),
		slog.New(slog.NewTextHandler(io.Discard, nil)),
	); err != nil {
		t.Fatal(err)
	}
	return &Server{Client: cl, Codec: c, Test: ts}
}
