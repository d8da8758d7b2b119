package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/partnerflow/partnerflow/devserver"
	"github.com/partnerflow/partnerflow/internal/bench"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// benchFlags are the bench command's options.
type benchFlags struct {
	flows, rounds, concurrency, scale, samples int
	api, apiKey, simURL, temporal, partnerID   string
	databaseURL, testdata, cpuProfile          string
	memProfile                                 string
	kinds                                      []string
	json                                       bool
	pollInterval, simActivation, settle, idle  time.Duration
	pacedFraction                              float64
	pacedFlows                                 int
}

// resellerPoll is the in-process stack's polling when resellers take part: they learn of their
// authorization only by polling.
const resellerPoll = 2 * time.Second

// benchEstateSyncEvery is the in-process stack's estate sync pause unless
// PARTNERFLOW_ESTATE_SYNC_EVERY is given: dev's own. No longer than the polling, it tells the
// waiting invitations what they would have polled for, so they leave Partner Center alone.
const benchEstateSyncEvery = 30 * time.Second

func benchCommand(a *app) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure partnerflow's flows against bare Temporal workflows of the same shape",
		Long: `bench drives each flow kind (--kinds: invitations, reseller partnerships, customer
onboardings, partnership removals) through the HTTP API and the simulator's customer actions to
its end, and in the same run bare Temporal workflows with that flow's shape (taken from its
recorded history in --testdata: its activities, local activities, timers, signals, updates,
versions and search attributes; child workflows are not reproduced) on the same Temporal server,
in interleaved rounds. Each removal
ends a reseller partnership the bench drives to active before the clock starts. Per kind it
prints flows/s, the ratio to its baseline, create and acceptance-to-done latencies, CPU seconds
per flow and peak RSS.

Without --api it starts the dev stack in this process on a temporary data dir and free ports
(app database: SQLite there, or --database-url). With --api, --api-key, --sim and --temporal it
drives a running deployment; CPU and RSS are then not measured.

After the rounds each partnerflow kind runs a paced phase: --paced-flows flows started at
--paced-fraction of the kind's flows/s in the rounds, whether or not the earlier ones are done,
each accepted and waited for as in the rounds; it reports their create latency at that load.

--scale N starts N invitations that stay waiting and reports the time to start them, RSS,
database bytes per waiting flow, the requests the simulator answered over --idle once they
settled (by route), and the p99 of listing pending invitations and of one invitation's detail.
Point --database-url at a scratch database: the invitations stay.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.flows, "flows", 200, "flows of each kind (partnerflow's and the baseline's)")
	fl.IntVar(&f.rounds, "rounds", 2, "interleaved rounds the flows are split over")
	fl.IntVar(&f.concurrency, "concurrency", 16, "flows created and accepted at once (clients)")
	fl.Float64Var(
		&f.pacedFraction,
		"paced-fraction",
		bench.DefaultPacedFraction,
		"after the rounds, start each kind's flows at this share of its flows/s in them (0: no paced phase)",
	)
	fl.IntVar(&f.pacedFlows, "paced-flows", 0, "flows each paced phase starts (0: one round's batch, at least 20)")
	fl.IntVar(&f.scale, "scale", 0, "scale mode: start this many invitations that stay waiting")
	fl.IntVar(&f.samples, "samples", 200, "scale mode: list pages and details timed")
	fl.DurationVar(
		&f.settle,
		"settle",
		10*time.Minute,
		"scale mode: how long at most the waiting invitations are left alone before the list and details are "+
			"timed (in process, until the process is idle)",
	)
	fl.DurationVar(
		&f.idle,
		"idle",
		time.Minute,
		"scale mode: once the flows settled, count the simulator's requests over this interval, the bench "+
			"sending none (0: no count)",
	)
	fl.StringVar(&f.api, "api", "", "a running deployment's API base URL (default: start dev in this process)")
	fl.StringVar(&f.apiKey, "api-key", "", "API key with every role (with --api)")
	fl.StringVar(&f.simURL, "sim", "", "the deployment's Partner Center simulator URL (with --api)")
	fl.StringVar(&f.temporal, "temporal", "", "the deployment's Temporal frontend host:port (with --api)")
	fl.StringVar(
		&f.partnerID,
		"partner-id",
		sim.DefaultHomePartner.TenantID,
		"the partner tenant the deployment acts as (with --api)",
	)
	fl.StringVar(
		&f.databaseURL,
		"database-url",
		"",
		"PostgreSQL URL for the in-process app database (default SQLite in the temporary data dir)",
	)
	fl.StringSliceVar(&f.kinds, "kinds", bench.Kinds, "flow kinds to drive, each with its baseline")
	fl.StringVar(
		&f.testdata,
		"testdata",
		filepath.Join("workflows", "testdata"),
		"directory of the recorded histories the baselines' shapes come from",
	)
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured part to this file")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile, taken after the measured part, to this file")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.DurationVar(
		&f.simActivation,
		"sim-activation-delay",
		0,
		"how long the in-process simulator takes to activate an approved GDAP relationship, access assignment "+
			"or order (0: at once; dev's is 3s): Microsoft's time, which is not partnerflow's cost and the "+
			"baselines do not wait",
	)
	fl.DurationVar(
		&f.pollInterval,
		"poll-interval",
		15*time.Minute,
		"the in-process flows' polling of Partner Center (production's default; dev's own is 30s; "+
			resellerPoll.String()+" when resellers take part and this is not given)",
	)
	return cmd
}

func (a *app) runBench(cmd *cobra.Command, f benchFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if !cmd.Flags().Changed("log-level") && !cmd.Root().PersistentFlags().Changed("log-level") {
		// The load would bury the report under access logs.
		a.logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		slog.SetDefault(a.logger)
	}
	for _, k := range f.kinds {
		if _, ok := bench.Histories[k]; !ok {
			return fmt.Errorf("--kinds: unknown flow kind %q (known: %s)", k, strings.Join(bench.Kinds, ", "))
		}
	}
	target := bench.Target{APIURL: f.api, APIKey: f.apiKey, SimURL: f.simURL, PartnerID: f.partnerID}
	temporalAddr := f.temporal
	inProcess := f.api == ""
	var sizes func(context.Context) (int64, int64, error)
	var sent func(context.Context, time.Time) (int64, error)
	drivesResellers := slices.Contains(f.kinds, bench.KindReseller) || slices.Contains(f.kinds, bench.KindRemoval)
	if inProcess && f.scale == 0 && drivesResellers && !cmd.Flags().Changed("poll-interval") {
		// A reseller's authorization has no Partner Center event: the flow learns of it only by
		// polling, and at 15 minutes a round of resellers would take 15 minutes. Removals take
		// part with resellers of their own, driven to active before the clock starts.
		f.pollInterval = resellerPoll
	}
	if inProcess {
		stack, err := a.startBenchDev(ctx, f.databaseURL, f.pollInterval, f.simActivation)
		if err != nil {
			return err
		}
		defer stack.stop()
		target, temporalAddr, sizes, sent = stack.target, stack.temporal, stack.sizes, stack.sent
	} else if f.apiKey == "" || f.simURL == "" || f.temporal == "" {
		return errors.New("--api needs --api-key, --sim and --temporal")
	}

	// The in-process invitations leave Partner Center to the estate sync unless they poll more
	// often than it runs; then they poll and start a watch of their own, as another history shows.
	shapes := map[string]bench.Shape{}
	for _, k := range f.kinds {
		file := bench.Histories[k]
		if polling, ok := bench.PollingHistories[k]; ok && inProcess && !estateSynced(a.cfg) {
			file = polling
		}
		s, err := bench.LoadShape(filepath.Join(f.testdata, file))
		if err != nil {
			return err
		}
		shapes[k] = s
	}

	tc, err := client.Dial(client.Options{
		HostPort: temporalAddr, Namespace: a.cfg.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(a.logger.With("component", "bench")),
	})
	if err != nil {
		return fmt.Errorf("dial Temporal at %s: %w", temporalAddr, err)
	}
	defer tc.Close()
	w := worker.New(tc, bench.BaselineTaskQueue, worker.Options{})
	bench.RegisterBaseline(w)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the baseline's worker: %w", err)
	}
	defer w.Stop()

	var progress io.Writer
	if st, err := os.Stdout.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && out == os.Stdout && !f.json {
		progress = os.Stdout
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var report interface{ WriteText(io.Writer) }
	if f.scale > 0 {
		db := "sqlite"
		switch {
		case !inProcess:
			db = "the deployment's"
		case f.databaseURL != "":
			db = "postgres"
		}
		opts := bench.ScaleOptions{
			Invitations: f.scale, Concurrency: f.concurrency, Samples: f.samples, Settle: f.settle,
			Sizes: sizes, Sent: sent, Database: db, InProcess: inProcess, Progress: progress, Idle: f.idle,
		}
		if inProcess {
			opts.EstateSyncEvery, opts.NoPolling = a.cfg.EstateSyncEvery, estateSynced(a.cfg)
			opts.WorkflowCache = a.cfg.WorkflowCacheSize
		}
		r, err := bench.RunScale(ctx, target, opts)
		if err != nil {
			return err
		}
		report = r
	} else {
		r, err := bench.Run(ctx, target, bench.Options{
			Flows: f.flows, Rounds: f.rounds, Concurrency: f.concurrency,
			PacedFraction: f.pacedFraction, PacedFlows: f.pacedFlows,
			Kinds: f.kinds, Shapes: shapes,
			Temporal: tc, InProcess: inProcess, Progress: progress,
		})
		if inProcess {
			r.PollInterval, r.SimActivationDelay = f.pollInterval.String(), f.simActivation.String()
		}
		if err != nil {
			return err
		}
		report = r
	}
	if f.memProfile != "" {
		if err := writeHeapProfile(f.memProfile); err != nil {
			return err
		}
	}
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	report.WriteText(out)
	return nil
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	return errors.Join(pprof.WriteHeapProfile(pf), pf.Close())
}

// benchStack is the dev stack bench runs in its own process.
type benchStack struct {
	target   bench.Target
	temporal string
	sizes    func(context.Context) (temporalBytes, appBytes int64, err error)
	sent     func(context.Context, time.Time) (int64, error)
	stop     func()
}

// startBenchDev runs dev (runDev, as `partnerflow dev` does) on a temporary data dir and free
// ports, without the Web UI, polling Partner Center at pollInterval, its simulator activating
// approvals after simActivation (0: at once), and returns once its API is ready.
func (a *app) startBenchDev(
	ctx context.Context,
	databaseURL string,
	pollInterval, simActivation time.Duration,
) (*benchStack, error) {
	dir, err := os.MkdirTemp("", "partnerflow-bench-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	keyBytes := make([]byte, models.MinKeyBytes)
	if _, err := rand.Read(keyBytes); err != nil {
		return nil, err
	}
	c := &a.cfg
	c.DataDir, c.DatabaseURL = dir, databaseURL
	c.HTTPAddr, c.PublicURL = "127.0.0.1:"+strconv.Itoa(ports[0]), ""
	c.SimAddr, c.SimPublicURL = "127.0.0.1:"+strconv.Itoa(ports[1]), ""
	c.TemporalAddress, c.TemporalPort, c.UIPort = "", ports[2], -1
	// The simulator's home partner, as dev would pick it, and dev's estate sync pause, set here
	// so that the report can say whether the waiting flows leave Partner Center to the sync.
	c.PartnerCenterURL, c.GraphURL, c.PartnerCenterTenantID = "", "", sim.DefaultHomePartner.TenantID
	if !c.EstateSyncEverySet {
		c.EstateSyncEvery, c.EstateSyncEverySet = benchEstateSyncEvery, true
	}
	c.PartnerCenterClientID, c.PartnerCenterClientSecret, c.PartnerCenterAuthorityURL = "", "", ""
	c.SMTPURL, c.BootstrapKey = "", base64.RawURLEncoding.EncodeToString(keyBytes)
	// Every waiting flow polls Partner Center at this interval: dev's 30 s would make 10,000
	// waiting invitations poll 333 times a second, which production never does.
	c.Wait.PollInterval, c.Wait.PollIntervalSet = pollInterval, true
	c.SimActivationDelay = simActivation
	if simActivation <= 0 {
		c.SimActivationDelay = sim.Immediately
	}
	a.devBanner = io.Discard

	devCtx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	var devErr error
	go func() {
		defer close(finished)
		devErr = a.runDev(devCtx)
	}()
	stop := func() {
		cancel()
		<-finished
		_ = os.RemoveAll(dir)
	}
	apiURL := "http://" + c.HTTPAddr
	if err := waitReady(ctx, apiURL+"/readyz", finished, &devErr); err != nil {
		stop()
		return nil, fmt.Errorf("start dev for the bench: %w", err)
	}
	sizes := func(ctx context.Context) (int64, int64, error) {
		t, err := globSize(filepath.Join(dir, devserver.DBFileName+"*"))
		if err == nil {
			var vis int64
			vis, err = globSize(filepath.Join(dir, devserver.VisibilityDBFileName+"*"))
			t += vis
		}
		if err != nil || databaseURL == "" {
			app, aerr := globSize(c.AppDatabase() + "*")
			return t, app, errors.Join(err, aerr)
		}
		store, err := models.Open(databaseURL)
		if err != nil {
			return t, 0, err
		}
		defer store.Close()
		var app int64
		err = store.DB.WithContext(ctx).Raw("SELECT pg_database_size(current_database())").Scan(&app).Error
		return t, app, err
	}
	sent := func(ctx context.Context, since time.Time) (int64, error) {
		dsn := c.AppDatabase()
		if databaseURL != "" {
			dsn = databaseURL
		}
		store, err := models.Open(dsn)
		if err != nil {
			return 0, err
		}
		defer store.Close()
		return store.InvitationsSent(ctx, since)
	}
	return &benchStack{
		sent: sent,
		target: bench.Target{
			APIURL:    apiURL,
			APIKey:    c.BootstrapKey,
			SimURL:    "http://" + c.SimAddr,
			PartnerID: sim.DefaultHomePartner.TenantID,
		},
		temporal: "127.0.0.1:" + strconv.Itoa(ports[2]),
		sizes:    sizes,
		stop:     stop,
	}, nil
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls url until it answers 200, dev stops, or three minutes pass.
func waitReady(ctx context.Context, url string, finished <-chan struct{}, devErr *error) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-finished:
			return fmt.Errorf("dev stopped: %v", *devErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 3 minutes", url)
		}
	}
}

// globSize is the total size of the files matching pattern.
func globSize(pattern string) (int64, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return 0, err
		}
		total += st.Size()
	}
	return total, nil
}
