package devserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/devserver"
)

// testLogger writes warnings to stderr rather than t.Log: the server's goroutines may still
// log after a test returns, which t.Log does not allow.
var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// start starts a dev server and stops it when the test ends, unless the test stopped it.
func start(t *testing.T, cfg devserver.Config) *devserver.Server {
	t.Helper()
	if cfg.FrontendPort == 0 {
		cfg.FrontendPort = freePort(t)
	}
	if cfg.UIPort == 0 {
		cfg.UIPort = freePort(t)
	}
	cfg.Logger = testLogger
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	srv, err := devserver.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return srv
}

func stop(t *testing.T, srv *devserver.Server) {
	t.Helper()
	began := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %s", time.Since(began).Round(time.Millisecond))
}

func dial(t *testing.T, srv *devserver.Server, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendHostPort(),
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(testLogger),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", srv.FrontendHostPort(), err)
	}
	t.Cleanup(c.Close)
	return c
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %s, want 200", url, resp.Status)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
}

func TestStartServesNamespaceWithRetentionAndUIWithCodec(t *testing.T) {
	const codec = "http://127.0.0.1:8080/codec"
	srv := start(t, devserver.Config{DataDir: t.TempDir(), Namespace: "partnerflow", CodecEndpoint: codec})
	c := dial(t, srv, "partnerflow")

	desc, err := c.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: "partnerflow"})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got < 30*24*time.Hour {
		t.Errorf("retention = %s, want at least 30 days", got)
	}

	if !strings.HasPrefix(srv.UIURL(), "http://127.0.0.1:") {
		t.Fatalf("UIURL() = %q, want http://127.0.0.1:<port>", srv.UIURL())
	}
	resp, err := http.Get(srv.UIURL() + "/")
	if err != nil {
		t.Fatalf("GET UI: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET UI /: status %s, want 200", resp.Status)
	}

	var settings struct {
		DefaultNamespace string
		Codec            struct {
			Endpoint           string
			IncludeCredentials bool
		}
	}
	getJSON(t, srv.UIURL()+"/api/v1/settings", &settings)
	if settings.DefaultNamespace != "partnerflow" {
		t.Errorf("UI default namespace = %q, want partnerflow", settings.DefaultNamespace)
	}
	if settings.Codec.Endpoint != codec || !settings.Codec.IncludeCredentials {
		t.Errorf("UI codec = %+v, want endpoint %s with credentials", settings.Codec, codec)
	}
}

func TestUIPortMinusOneDisablesUI(t *testing.T) {
	srv := start(t, devserver.Config{DataDir: t.TempDir(), UIPort: -1})
	if got := srv.UIURL(); got != "" {
		t.Errorf("UIURL() = %q, want empty", got)
	}
}

const (
	approvalTaskQueue = "devserver-test"
	approveSignal     = "approve"
)

// waitForApproval stands for every human wait in partnerflow: a selector over a signal and
// a timer far longer than the test.
func waitForApproval(ctx workflow.Context, subject string) (string, error) {
	var approver string
	timedOut := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, approveSignal), func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, &approver)
	})
	sel.AddFuture(workflow.NewTimer(ctx, 90*24*time.Hour), func(workflow.Future) { timedOut = true })
	sel.Select(ctx)
	if timedOut {
		return "", errors.New("approval timed out")
	}
	return subject + " approved by " + approver, nil
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, approvalTaskQueue, worker.Options{})
	w.RegisterWorkflow(waitForApproval)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	return w
}

// waitForTimerStarted returns once the workflow's first task has run, so the wait is
// recorded in the database rather than only in the worker's memory.
func waitForTimerStarted(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		iter := c.GetWorkflowHistory(
			context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
		)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("read history of %s: %v", workflowID, err)
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("workflow %s never started its timer", workflowID)
}

// startWaitingWorkflow starts a server on dir, starts the approval workflow, waits until it
// is blocked on its signal and timer, and stops worker and server.
func startWaitingWorkflow(t *testing.T, dir, workflowID string) {
	t.Helper()
	srv := start(t, devserver.Config{DataDir: dir, UIPort: -1})
	c := dial(t, srv, devserver.DefaultNamespace)
	w := startWorker(t, c)
	_, err := c.ExecuteWorkflow(context.Background(),
		client.StartWorkflowOptions{ID: workflowID, TaskQueue: approvalTaskQueue}, waitForApproval, "fabrikam.example")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	waitForTimerStarted(t, c, workflowID)
	w.Stop()
	c.Close()
	stop(t, srv)
}

// approveAndExpectCompletion starts a server on dir, signals the waiting workflow and
// expects it to complete with the approval.
func approveAndExpectCompletion(t *testing.T, dir, workflowID string) {
	t.Helper()
	srv := start(t, devserver.Config{DataDir: dir, UIPort: -1})
	c := dial(t, srv, devserver.DefaultNamespace)
	w := startWorker(t, c)
	defer w.Stop()

	began := time.Now()
	if err := c.SignalWorkflow(
		context.Background(), workflowID, "", approveSignal, "admin@fabrikam.example",
	); err != nil {
		t.Fatalf("signal after restart: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var result string
	if err := c.GetWorkflow(ctx, workflowID, "").Get(ctx, &result); err != nil {
		t.Fatalf("workflow result after restart: %v", err)
	}
	t.Logf("workflow completed %s after the signal", time.Since(began).Round(time.Millisecond))
	if want := "fabrikam.example approved by admin@fabrikam.example"; result != want {
		t.Errorf("result = %q, want %q", result, want)
	}
	expectListedClosed(t, c, workflowID)
}

// expectListedClosed waits for visibility (the Web UI's list, kept in VisibilityDBFileName) to
// show the workflow completed.
func expectListedClosed(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q AND ExecutionStatus = 'Completed'", workflowID),
		})
		if err == nil && len(resp.GetExecutions()) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility does not list %s as completed: %v %v", workflowID, resp.GetExecutions(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRestartOnSameDataDirResumesWaitingWorkflow(t *testing.T) {
	dir := t.TempDir()
	const workflowID = "invitation/contoso/fabrikam.example"
	startWaitingWorkflow(t, dir, workflowID)
	if _, err := os.Stat(filepath.Join(dir, devserver.DBFileName)); err != nil {
		t.Fatalf("database file after stop: %v", err)
	}
	approveAndExpectCompletion(t, dir, workflowID)
}

// childDirEnv tells a re-executed test binary to run the first half of
// TestRestartInANewProcessResumesWaitingWorkflow on this data dir and exit.
const childDirEnv = "DEVSERVER_TEST_CHILD_DATA_DIR"

// TestRestartInANewProcessResumesWaitingWorkflow is what `partnerflow dev` users do: the
// first server runs in another process, which exits; only the SQLite file carries the
// workflow over (within one process the server's SQLite connection pool would too).
func TestRestartInANewProcessResumesWaitingWorkflow(t *testing.T) {
	const workflowID = "invitation/contoso/northwind.example"
	if dir := os.Getenv(childDirEnv); dir != "" {
		startWaitingWorkflow(t, dir, workflowID)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartInANewProcessResumesWaitingWorkflow$", "-test.v")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("first process: %v\n%s", err, out)
	}
	approveAndExpectCompletion(t, dir, workflowID)
}

func TestStopReleasesPortsForTheNextStart(t *testing.T) {
	cfg := devserver.Config{DataDir: t.TempDir(), FrontendPort: freePort(t), UIPort: freePort(t)}
	stop(t, start(t, cfg))
	second := start(t, cfg)
	getJSON(t, second.UIURL()+"/api/v1/settings", nil)
	dial(t, second, devserver.DefaultNamespace)
}

func TestStartRefusesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("occupy a port: %v", err)
	}
	defer func() { _ = taken.Close() }()
	port := taken.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name string
		cfg  devserver.Config
	}{
		{"a taken frontend port is refused", devserver.Config{FrontendPort: port, UIPort: -1}},
		{"a taken UI port is refused", devserver.Config{FrontendPort: freePort(t), UIPort: port}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DataDir = t.TempDir()
			tt.cfg.Logger = testLogger
			srv, err := devserver.Start(context.Background(), tt.cfg)
			if err == nil {
				_ = srv.Stop()
				t.Fatal("Start succeeded on a taken port")
			}
			if !strings.Contains(err.Error(), "not available") {
				t.Errorf("error = %v, want it to say the port is not available", err)
			}
		})
	}
}
