package config_test

import (
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/config"
)

func TestWebhooksReachOnlyPublicAddressesUnlessAllowed(t *testing.T) {
	cases := []struct {
		name, value string
		want        bool
		err         bool
	}{
		{"unset keeps webhooks on public addresses", "", false, false},
		{"true allows private addresses", "true", true, false},
		{"false keeps them refused", "false", false, false},
		{"anything else is refused by name", "sometimes", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE", tc.value)
			c, err := config.FromEnv()
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), "PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE") {
					t.Fatalf("want an error naming the variable, got %v", err)
				}
				return
			}
			if err != nil || c.WebhookAllowPrivate != tc.want {
				t.Fatalf("WebhookAllowPrivate = %v (%v), want %v", c.WebhookAllowPrivate, err, tc.want)
			}
		})
	}
}
