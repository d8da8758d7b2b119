package sim

import (
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

func TestParseISODuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"days", "P730D", 730 * day, true},
		{"two years is 730 days", "P2Y", 730 * day, true},
		{"zero seconds means no extension", "PT0S", 0, true},
		{"mixed date and time parts", "P1DT2H", day + 2*time.Hour, true},
		{"a bare P is not a duration", "P", 0, false},
		{"garbage is not a duration", "30 days", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseISODuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseISODuration(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestGDAPStatusDerivation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	delay := time.Minute
	approved := func(duration, auto string) *gdapRecord {
		return &gdapRecord{Phase: pc.GDAPStatusApproved, ApprovedAt: t0, Duration: duration, AutoExtend: auto}
	}
	tests := []struct {
		name string
		g    *gdapRecord
		at   time.Time
		want string
	}{
		{"a pending request expires after 90 days", &gdapRecord{Phase: pc.GDAPStatusApprovalPending, LockedAt: t0},
			t0.Add(90 * 24 * time.Hour), pc.GDAPStatusExpired},
		{"a pending request is still pending a second before",
			&gdapRecord{Phase: pc.GDAPStatusApprovalPending, LockedAt: t0},
			t0.Add(90*24*time.Hour - time.Second), pc.GDAPStatusApprovalPending},
		{"an approved relationship activates after the delay", approved("P90D", ""),
			t0.Add(delay), pc.GDAPStatusActive},
		{"a relationship without auto-extend is still active in its last 30 days", approved("P90D", ""),
			t0.Add(delay + 61*24*time.Hour), pc.GDAPStatusActive},
		{"and in its last second", approved("P90D", ""),
			t0.Add(delay + 90*24*time.Hour - time.Second), pc.GDAPStatusActive},
		{"it is expiring once past its end (Graph: \"has passed its expiration date\")", approved("P90D", ""),
			t0.Add(delay + 90*24*time.Hour), pc.GDAPStatusExpiring},
		{"while it is deprovisioned, for the activation delay", approved("P90D", ""),
			t0.Add(delay + 90*24*time.Hour + delay - time.Second), pc.GDAPStatusExpiring},
		{"then expired", approved("P90D", ""),
			t0.Add(delay + 90*24*time.Hour + delay), pc.GDAPStatusExpired},
		{"a relationship with auto-extend is active at its first end", approved("P90D", "P180D"),
			t0.Add(delay + 90*24*time.Hour), pc.GDAPStatusActive},
		{"a relationship with auto-extend stays active past its end", approved("P90D", "P180D"),
			t0.Add(delay + 200*24*time.Hour), pc.GDAPStatusActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, _ := tt.g.status(tt.at, delay); got != tt.want {
				t.Errorf("status = %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("without a delay it is expired at its end", func(t *testing.T) {
		end := t0.Add(90 * 24 * time.Hour)
		g := approved("P90D", "")
		if got, _, _ := g.status(end.Add(-time.Nanosecond), 0); got != pc.GDAPStatusActive {
			t.Errorf("before the end: %s", got)
		}
		if got, _, _ := g.status(end, 0); got != pc.GDAPStatusExpired {
			t.Errorf("at the end: %s", got)
		}
	})
}
