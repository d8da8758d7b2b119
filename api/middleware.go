package api

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Keys of values kept on the gin context.
const (
	ctxRequestID = "requestID"
	ctxAPIKey    = "apiKey"
	ctxError     = "error"
	// ctxSession is true when the session cookie, not a bearer key, authenticated the request.
	ctxSession = "viaSession"
)

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-Id"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID keeps a caller's well-formed X-Request-Id or makes one, and echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// accessLog writes one structured line per request. It logs the route template, never the raw
// path or query, because customer links carry tokens.
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []any{
			"request_id", c.GetString(ctxRequestID),
			"method", c.Request.Method,
			"route", routeOf(c),
			"status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds(),
		}
		if key := callerKey(c); key != nil {
			attrs = append(attrs, "api_key", key.ID)
		}
		level := slog.LevelInfo
		if err, ok := c.Get(ctxError); ok {
			attrs = append(attrs, "error", err)
			level = slog.LevelError
		}
		logger.Log(c.Request.Context(), level, "http request", attrs...)
	}
}

func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// metricMethods are the methods metrics name; any other counts as "other", so that anonymous
// requests with made-up methods cannot add series. Routes are templates or "unmatched", and
// statuses the API's own, so every label set is bounded.
var metricMethods = []string{
	http.MethodGet,
	http.MethodHead,
	http.MethodPost,
	http.MethodPut,
	http.MethodPatch,
	http.MethodDelete,
	http.MethodOptions,
}

func methodLabel(method string) string {
	if slices.Contains(metricMethods, method) {
		return method
	}
	return "other"
}

// httpMetrics counts requests and their latency by method, route template and status.
func httpMetrics(reg prometheus.Registerer) gin.HandlerFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partnerflow_http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "partnerflow_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(requests, latency)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		method, route := methodLabel(c.Request.Method), routeOf(c)
		requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// limitBody refuses bodies over limit: at once when Content-Length says so, otherwise when the
// handler reads past it.
func limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			writeProblem(c, problemTooLarge(limit))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// recoverProblem turns a panic into a logged 500 problem.
func recoverProblem() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		c.Set(ctxError, err)
		writeProblem(c, problemInternal())
	})
}
