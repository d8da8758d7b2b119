package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName         = "active"
	storeName           = "sqlite"
	visibilityStoreName = "sqlite-visibility"
	// internalIP is where history, matching and worker listen: nothing outside the
	// process talks to them.
	internalIP = "127.0.0.1"
)

// sqlitePragmas are passed as connect attributes, which the server's SQLite plugin turns
// into PRAGMAs. WAL lets readers proceed during a write and, with synchronous=normal, costs
// one fsync per checkpoint instead of one per transaction, roughly tripling throughput; a
// power loss can lose the last transactions but never corrupts the file. busy_timeout
// covers the moments another process (sqlite3 shell, a backup) holds the lock.
var sqlitePragmas = map[string]string{
	"journal_mode": "wal",
	"synchronous":  "normal",
	"busy_timeout": "5000",
}

// dynamicConfig is the dev server's dynamic configuration; every other key keeps the
// server's default.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// IDs are VARCHAR(255) in the SQL schemas; refusing longer ones here means a workflow
		// ID that works in dev also works on PostgreSQL in production.
		dynamicconfig.MaxIDLengthLimit.Key(): 255,
		// The Web UI lists and counts workflows on every page; the default of 10 visibility
		// requests per second throttles a single browser tab.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Custom search attributes are registered through the operator API at start and used
		// right away; without this the frontend serves a cached list for a while and rejects
		// them.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// The mutable states of the 2,048 workflows used last stay in memory; the others are read
		// from SQLite when they next wake (a waiting flow wakes every poll interval). 8,192 held
		// about 150 MiB with 10,000 invitations waiting; the server's default is 128,000.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 2048,
	}
}

// sqliteStores are the server's two SQLite stores: its persistence and its visibility records,
// which are the same file in data dirs made before VisibilityDBFileName.
type sqliteStores struct {
	main, visibility *config.SQL
}

// sqliteConfig is the configuration of the SQLite file at path.
func sqliteConfig(path string) *config.SQL {
	cfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      path,
		ConnectAttributes: map[string]string{"mode": "rwc"},
		// One connection a file: SQLite has one writer anyway, and the plugin shares it between
		// all services through its pool.
		MaxConns:     1,
		MaxIdleConns: 1,
	}
	for k, v := range sqlitePragmas {
		cfg.ConnectAttributes[k] = v
	}
	return cfg
}

// prepareStores creates the SQLite files with their schema on first start and makes sure the
// namespace exists.
func prepareStores(c Config) (sqliteStores, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return sqliteStores{}, fmt.Errorf("devserver: create data dir: %w", err)
	}
	path, visPath := filepath.Join(c.DataDir, DBFileName), filepath.Join(c.DataDir, VisibilityDBFileName)
	stores := sqliteStores{main: sqliteConfig(path), visibility: sqliteConfig(visPath)}
	fresh, err := missing(path)
	if err != nil {
		return stores, err
	}
	visFresh, err := missing(visPath)
	if err != nil {
		return stores, err
	}
	if fresh {
		if err := sqliteschema.SetupSchema(stores.main); err != nil {
			return stores, fmt.Errorf("devserver: create schema in %s (remove the file to retry): %w", path, err)
		}
	}
	switch {
	case !fresh && visFresh:
		// A data dir from before the separate file: its visibility records stay where they are.
		stores.visibility = stores.main
	case visFresh:
		// The schema has both stores' tables; this file uses the visibility ones.
		if err := sqliteschema.SetupSchema(stores.visibility); err != nil {
			return stores, fmt.Errorf("devserver: create schema in %s (remove the file to retry): %w", visPath, err)
		}
	}

	// The namespace is written straight into the store so that the server's namespace
	// registry knows it from the first moment; registering it through the frontend instead
	// leaves a window in which workers are told it does not exist.
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, c.Namespace, false, nil)
	if err != nil {
		return stores, fmt.Errorf("devserver: describe namespace %s: %w", c.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(stores.main, ns); err != nil {
		return stores, fmt.Errorf("devserver: create namespace %s in %s: %w", c.Namespace, path, err)
	}
	return stores, nil
}

// missing reports whether no file is at path.
func missing(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("devserver: inspect %s: %w", path, err)
	}
	return false, nil
}

// startTemporal builds and starts all four services in this process.
func startTemporal(c Config, stores sqliteStores, logger slogLogger) (srv temporal.Server, err error) {
	ports, err := freePorts(internalIP, 3)
	if err != nil {
		return nil, err
	}
	services := map[primitives.ServiceName]config.RPC{
		primitives.FrontendService: {GRPCPort: c.FrontendPort, HTTPPort: c.FrontendHTTPPort, BindOnIP: c.IP},
		primitives.HistoryService:  {GRPCPort: ports[0], BindOnIP: internalIP},
		primitives.MatchingService: {GRPCPort: ports[1], BindOnIP: internalIP},
		primitives.WorkerService:   {GRPCPort: ports[2], BindOnIP: internalIP},
	}
	hosts := make(map[primitives.ServiceName]static.Hosts, len(services))
	serviceCfgs := make(map[string]config.Service, len(services))
	for name, rpc := range services {
		ip := internalIP
		if name == primitives.FrontendService {
			ip = c.dialIP()
		}
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(rpc.GRPCPort)))
		serviceCfgs[string(name)] = config.Service{RPC: rpc}
	}

	frontend := frontendAddr(c)
	clusterInfo := cluster.ClusterInformation{
		Enabled:                true,
		InitialFailoverVersion: 1,
		RPCAddress:             frontend,
		HTTPAddress:            net.JoinHostPort(c.dialIP(), strconv.Itoa(c.FrontendHTTPPort)),
	}
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Persistence = config.Persistence{
		DefaultStore:    storeName,
		VisibilityStore: visibilityStoreName,
		// The shard count is fixed when the database is created; one is plenty for dev.
		NumHistoryShards: 1,
		DataStores: map[string]config.DataStore{
			storeName:           {SQL: stores.main},
			visibilityStoreName: {SQL: stores.visibility},
		},
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation:       map[string]cluster.ClusterInformation{clusterName: clusterInfo},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = serviceCfgs
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend

	// The server reports what it cannot survive through the logger's Fatal, which panics
	// (see fatalLog); when that happens while starting, it becomes Start's error.
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatalLog)
			if !ok {
				panic(r)
			}
			srv, err = nil, fmt.Errorf("devserver: start temporal server: %s", f)
		}
	}()
	srv, err = temporal.NewServer(
		temporal.WithConfig(&conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("devserver: start temporal server: %w", err), srv.Stop())
	}
	return srv, nil
}

// applyNamespaceConfig waits until the frontend serves the namespace and sets its
// retention. schema/sqlite creates namespaces with a 24-hour retention and leaves existing
// ones alone, so the configured value is applied here, at every start.
func applyNamespaceConfig(ctx context.Context, addr, namespace string, retention time.Duration) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("devserver: dial frontend %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }()
	svc := workflowservice.NewWorkflowServiceClient(conn)

	var desc *workflowservice.DescribeNamespaceResponse
	for {
		desc, err = svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: wait for frontend %s to serve namespace %s: %w", addr, namespace, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = svc.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("devserver: set retention of namespace %s to %s: %w", namespace, retention, err)
	}
	return nil
}
