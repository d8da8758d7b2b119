package main

import (
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/config"
)

func TestInvitationsLeaveItToTheSyncOnlyWhenItRunsAsOftenAsTheyWouldPoll(t *testing.T) {
	for _, tc := range []struct {
		every, poll time.Duration
		tenant      string
		want        bool
	}{
		{15 * time.Minute, 15 * time.Minute, "p", true},
		{30 * time.Second, 15 * time.Minute, "p", true},
		{15 * time.Minute, time.Second, "p", false}, // the operator asked for faster polling
		{0, 15 * time.Minute, "p", false},           // the sync is off
		{15 * time.Minute, 15 * time.Minute, "", false},
	} {
		cfg := config.Config{EstateSyncEvery: tc.every, PartnerCenterTenantID: tc.tenant}
		cfg.Wait.PollInterval = tc.poll
		if got := estateSynced(cfg); got != tc.want {
			t.Errorf("sync every %v, poll every %v, tenant %q: %v, want %v", tc.every, tc.poll, tc.tenant, got, tc.want)
		}
	}
}
