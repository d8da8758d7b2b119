package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// RateLimit is one token bucket: Burst requests at once, then one every Every.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// RateLimits are the limits of the public routes and of failed sign-ins; a zero field takes
// its default.
type RateLimits struct {
	// PerClient limits each client address (an IPv6 client by its /64) on the customer pages
	// and the sign-in page. Default: 60 at once, then one a second.
	PerClient RateLimit
	// PerToken limits each customer link, whoever opens it. Default: 30 at once, then one
	// every 2 seconds.
	PerToken RateLimit
	// AuthFailures limits failed sign-ins and failed bearer keys per client address; only
	// failures count. Default: 10 at once, then one every 6 seconds.
	AuthFailures RateLimit
	// MaxTracked bounds how many clients or links each limiter remembers (default 10000);
	// limiters idle for 10 minutes are forgotten first.
	MaxTracked int
}

func (r RateLimits) withDefaults() RateLimits {
	def := func(l *RateLimit, every time.Duration, burst int) {
		if l.Every <= 0 {
			l.Every = every
		}
		if l.Burst <= 0 {
			l.Burst = burst
		}
	}
	def(&r.PerClient, time.Second, 60)
	def(&r.PerToken, 2*time.Second, 30)
	def(&r.AuthFailures, 6*time.Second, 10)
	if r.MaxTracked <= 0 {
		r.MaxTracked = 10000
	}
	return r
}

// limiterIdle is how long a limiter is kept after its last use. A bucket refills long before
// that, so forgetting it changes nothing for the client.
const limiterIdle = 10 * time.Minute

// limiters holds one token bucket per key (a client address or a link token), bounded in
// number: idle buckets are dropped, and when every bucket is busy the least recently used goes.
type limiters struct {
	mu        sync.Mutex
	limit     RateLimit
	max       int
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(l RateLimit, max int) *limiters {
	return &limiters{limit: l, max: max, buckets: map[string]*bucket{}}
}

// get returns key's bucket, making it (and making room for it) when needed. l.mu is held.
func (l *limiters) get(key string, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[key]; ok {
		b.seen = now
		return b.lim
	}
	if now.Sub(l.lastSweep) > limiterIdle || len(l.buckets) >= l.max {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > limiterIdle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	if len(l.buckets) >= l.max {
		oldest, at := "", now
		for k, b := range l.buckets {
			if !b.seen.After(at) {
				oldest, at = k, b.seen
			}
		}
		delete(l.buckets, oldest)
	}
	b := &bucket{lim: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst), seen: now}
	l.buckets[key] = b
	return b.lim
}

// take spends one request of key's bucket; when it is empty, it spends nothing and says how
// long until the next request is allowed.
func (l *limiters) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.get(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// check says whether key's bucket has a request left, without spending it.
func (l *limiters) check(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tokens := l.get(key, now).TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) * float64(l.limit.Every))
}

// size is how many buckets are held (tests check the bound).
func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey names the client of a request for the limiters: its address, an IPv6 address by
// its /64, which one subscriber usually holds whole.
func clientKey(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return c.ClientIP()
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// tooManyRequests answers 429 with Retry-After in whole seconds (at least one).
func tooManyRequests(c *gin.Context, retryAfter time.Duration, detail string) {
	secs := int(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	writeProblem(c, NewProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests",
		detail+"; try again in "+strconv.Itoa(secs)+" seconds"))
}

// limitClient is middleware for the public routes: each client address gets its own bucket.
func (s *Server) limitClient(c *gin.Context) {
	if ok, wait := s.perClient.take(clientKey(c), time.Now()); !ok {
		tooManyRequests(c, wait, "too many requests from this address")
		return
	}
	c.Next()
}

// limitLink is middleware for the customer links (/accept, /partner, /agreement): each client
// address and each link gets its own bucket, so neither one client nor many together can
// hammer one link.
func (s *Server) limitLink(c *gin.Context) {
	now := time.Now()
	if ok, wait := s.perClient.take(clientKey(c), now); !ok {
		tooManyRequests(c, wait, "too many requests from this address")
		return
	}
	if ok, wait := s.perToken.take(c.Param("token"), now); !ok {
		tooManyRequests(c, wait, "too many requests for this link")
		return
	}
	c.Next()
}

// authThrottled answers 429 and reports true when the client has used up its failed
// sign-ins; the caller then stops.
func (s *Server) authThrottled(c *gin.Context) bool {
	if ok, wait := s.authFailures.check(clientKey(c), time.Now()); !ok {
		tooManyRequests(c, wait, "too many failed sign-ins from this address")
		return true
	}
	return false
}

// authFailed counts a failed sign-in or bearer key against the client.
func (s *Server) authFailed(c *gin.Context) {
	s.authFailures.take(clientKey(c), time.Now())
}

// What a link's holder can add to its flow's timeline, however many addresses they use: each
// "opened" step is one per link, client and hour, each "acknowledged" step one per account
// given, and past these counts nothing more is recorded (the page still answers).
const (
	maxOpenedSteps       = 100
	maxAcknowledgedSteps = 20
)

// openedStepKey is the idempotency key of a link's "opened" (or similar) step: one per flow,
// client and hour, the client named as the limiters name it, so an IPv6 subscriber's addresses
// count once.
func openedStepKey(c *gin.Context, id, name string, at time.Time) string {
	return id + "/" + name + "/" + clientKey(c) + "/" + at.Truncate(time.Hour).Format(time.RFC3339)
}

// recordLinkStep adds a step a customer link caused to the flow's timeline, unless the flow
// already holds limit steps of that name; a refused step is logged, not an error.
func (s *Server) recordLinkStep(c *gin.Context, kind, id, name, detail, key string, at time.Time, limit int) error {
	ctx := c.Request.Context()
	full, err := s.store.AddCappedStep(ctx, kind, id, name, detail, key, at, limit)
	if full {
		s.logger.WarnContext(ctx, "a customer link reached its flow's step limit; not recorded",
			"flow_kind", kind, "flow_id", id, "step", name, "limit", limit)
	}
	return err
}
