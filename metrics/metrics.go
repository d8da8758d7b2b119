// Package metrics exposes partnerflow's Prometheus registry: HTTP metrics from the API and the
// Temporal SDK's client and worker metrics, served at /metrics.
package metrics

import (
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
)

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// TemporalHandler returns an SDK metrics handler that reports into reg, and the closer that
// flushes it. Timers become Prometheus histograms.
func TemporalHandler(reg *prometheus.Registry) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &tallyprom.DefaultSanitizerOpts,
	}, time.Second)
	return tallyHandler{scope}, closer
}

// tallyHandler adapts a tally scope to the SDK's metrics interface.
type tallyHandler struct{ scope tally.Scope }

func (h tallyHandler) WithTags(tags map[string]string) client.MetricsHandler {
	return tallyHandler{h.scope.Tagged(tags)}
}

func (h tallyHandler) Counter(name string) client.MetricsCounter {
	return counter{h.scope.Counter(name)}
}

func (h tallyHandler) Gauge(name string) client.MetricsGauge { return h.scope.Gauge(name) }

func (h tallyHandler) Timer(name string) client.MetricsTimer { return h.scope.Timer(name) }

type counter struct{ tally.Counter }

func (c counter) Inc(d int64) { c.Counter.Inc(d) }
