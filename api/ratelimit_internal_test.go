package api

import (
	"strconv"
	"testing"
	"time"
)

func TestLimitersStayBoundedAndForgetIdleClients(t *testing.T) {
	l := newLimiters(RateLimit{Every: time.Minute, Burst: 2}, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A flood of distinct clients never holds more than the bound.
	for i := range 1000 {
		l.take("client-"+strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.size(); n > 100 {
		t.Fatalf("%d limiters held, the bound is 100", n)
	}
	// A client that used its burst waits, and is told how long.
	busy := now.Add(2 * time.Second)
	l.take("busy", busy)
	l.take("busy", busy)
	ok, wait := l.take("busy", busy)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("a spent bucket: ok=%v wait=%v", ok, wait)
	}
	// When the limiters are full, the least recently used goes, not a client just seen.
	for i := range 50 {
		l.take("late-"+strconv.Itoa(i), now.Add(3*time.Second))
	}
	if ok, _ := l.take("busy", now.Add(3*time.Second)); ok {
		t.Fatal("a recently used bucket was evicted and refilled")
	}
	// Idle buckets are dropped once they are older than limiterIdle.
	later := now.Add(limiterIdle + time.Minute)
	l.take("new", later)
	if n := l.size(); n != 1 {
		t.Fatalf("%d limiters after everyone went idle, want 1", n)
	}
}

func TestCheckDoesNotSpend(t *testing.T) {
	l := newLimiters(RateLimit{Every: time.Hour, Burst: 1}, 10)
	now := time.Now()
	for range 5 {
		if ok, _ := l.check("c", now); !ok {
			t.Fatal("check spent the bucket")
		}
	}
	l.take("c", now)
	if ok, wait := l.check("c", now); ok || wait < 59*time.Minute {
		t.Fatalf("after a failure: ok=%v wait=%v", ok, wait)
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/%09/evil.example": "/", "//evil": "/", `/\evil`: "/", "https://evil": "/", "/ok?x=1": "/ok?x=1",
		"/a%2F%2Fb": "/a%2F%2Fb", "/%2F%2Fevil": "/", "/\x7f": "/", "/ok#frag": "/ok#frag", "http:/evil": "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
