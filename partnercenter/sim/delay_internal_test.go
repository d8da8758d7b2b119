package sim

import (
	"testing"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

func TestActivationDelayDefaultsAndImmediately(t *testing.T) {
	cases := []struct {
		name                  string
		delay                 time.Duration
		activation, provision time.Duration
	}{
		{"unset means Microsoft's few seconds", 0, 3 * time.Second, 3 * time.Second},
		{"a delay is kept", time.Minute, time.Minute, time.Minute},
		{"Immediately means none", Immediately, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{ActivationDelay: tc.delay})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.cfg.ActivationDelay != tc.activation || s.provDelay != tc.provision {
				t.Fatalf(
					"activation %s, provisioning %s; want %s, %s",
					s.cfg.ActivationDelay,
					s.provDelay,
					tc.activation,
					tc.provision,
				)
			}
			approved := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			g := &gdapRecord{Phase: pc.GDAPStatusApproved, ApprovedAt: approved, Duration: "P90D"}
			if status, _, _ := g.status(approved, s.cfg.ActivationDelay); (status == pc.GDAPStatusActive) !=
				(tc.activation == 0) {
				t.Fatalf("at approval the relationship is %s", status)
			}
		})
	}
}
