package webhooks

import (
	"testing"
	"time"
)

func TestRetriesBackOffExponentiallyUpToTheCap(t *testing.T) {
	d := &Dispatcher{}
	d.withDefaults()
	cases := []struct {
		failedAttempts int
		wait           time.Duration
	}{
		{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {9, 2560 * time.Second},
		{10, time.Hour}, {11, time.Hour}, {100, time.Hour},
	}
	for _, tc := range cases {
		if got := d.backoff(tc.failedAttempts); got != tc.wait {
			t.Errorf("after %d failed attempts the wait is %s, want %s", tc.failedAttempts, got, tc.wait)
		}
	}
	if d.MaxAttempts != 12 || d.Lease <= 2*10*time.Second {
		t.Errorf("defaults: %d attempts, lease %s", d.MaxAttempts, d.Lease)
	}
}
