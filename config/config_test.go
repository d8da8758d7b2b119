package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/config"
)

func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	for _, name := range []string{
		"PARTNERFLOW_DATA_DIR",
		"PARTNERFLOW_HTTP_ADDR",
		"TEMPORAL_ADDRESS",
		"PARTNERFLOW_TEMPORAL_PORT",
		"PARTNERFLOW_UI_PORT",
		"DATABASE_URL",
		"PARTNERFLOW_SIM_ADDR",
		"PARTNERFLOW_POLL_INTERVAL",
		"PARTNERFLOW_REMINDERS",
		"PARTNERFLOW_ESTATE_SYNC_EVERY",
		"PARTNERFLOW_WORKFLOW_CACHE",
	} {
		t.Setenv(name, "")
	}
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./.partnerflow" || c.HTTPAddr != "127.0.0.1:8080" || c.TemporalPort != 7233 ||
		c.UIPort != 8233 || c.SimAddr != "127.0.0.1:8081" {
		t.Fatalf("defaults %+v", c)
	}
	if c.AppDatabase() != ".partnerflow/partnerflow.db" || c.BaseURL() != "http://127.0.0.1:8080" {
		t.Fatalf("derived %q %q", c.AppDatabase(), c.BaseURL())
	}
	if c.EstateSyncEvery != 15*time.Minute || c.EstateSyncEverySet {
		t.Fatalf("estate sync every %v (set %v)", c.EstateSyncEvery, c.EstateSyncEverySet)
	}
	if c.WorkflowCacheSize != 2000 {
		t.Fatalf("workflow cache %d, want the documented 2000", c.WorkflowCacheSize)
	}
	t.Setenv("PARTNERFLOW_WORKFLOW_CACHE", "500")
	if c, _ := config.FromEnv(); c.WorkflowCacheSize != 500 {
		t.Fatalf("PARTNERFLOW_WORKFLOW_CACHE=500 gave %d", c.WorkflowCacheSize)
	}
	t.Setenv("PARTNERFLOW_WORKFLOW_CACHE", "")
	if len(c.Wait.Reminders) != 3 || c.Wait.Reminders[2] != 14*24*time.Hour || c.Wait.PollInterval != 15*time.Minute {
		t.Fatalf("policy %+v %v", c.Wait.Reminders, c.Wait.PollInterval)
	}
	t.Setenv("DATABASE_URL", "postgres://u@h/db")
	if c, _ := config.FromEnv(); c.AppDatabase() != "postgres://u@h/db" {
		t.Fatal("DATABASE_URL must win over the SQLite file")
	}
}

func TestBadValuesAreRefusedByName(t *testing.T) {
	cases := []struct{ name, variable, value string }{
		{"a port that is not a number is refused", "PARTNERFLOW_UI_PORT", "eighty"},
		{"a poll interval that is not a duration is refused", "PARTNERFLOW_POLL_INTERVAL", "often"},
		{"a reminder offset that is not a duration is refused", "PARTNERFLOW_REMINDERS", "72h,soon"},
		{"a negative reminder offset is refused", "PARTNERFLOW_REMINDERS", "-1h"},
		{"an escalation count that is not a number is refused", "PARTNERFLOW_ESCALATE_AFTER", "three"},
		{"an onboarding expiry that is not a duration is refused", "PARTNERFLOW_ONBOARDING_EXPIRE_AFTER", "a while"},
		{"a removal with no delivery attempt is refused", "PARTNERFLOW_DELIVERY_ATTEMPTS", "0"},
		{"a workflow cache that is not a number is refused", "PARTNERFLOW_WORKFLOW_CACHE", "big"},
		{"a workflow cache of no workflow is refused", "PARTNERFLOW_WORKFLOW_CACHE", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.variable, tc.value)
			_, err := config.FromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Fatalf("want an error naming %s, got %v", tc.variable, err)
			}
		})
	}
}

func TestPartnerCenterAndWebUISettingsAreRead(t *testing.T) {
	names := map[string]string{
		"PARTNERCENTER_URL":              "https://api.partnercenter.microsoft.com",
		"GRAPH_URL":                      "https://graph.microsoft.com",
		"PARTNERCENTER_TENANT_ID":        "7f2c9a1e-4b3d-4e5f-8a6b-1c2d3e4f5a6b",
		"PARTNERCENTER_CLIENT_ID":        "app-id",
		"PARTNERCENTER_CLIENT_SECRET":    "app-secret",
		"PARTNERCENTER_ADMIN_PORTAL_URL": "https://admin.example/approve/",
		"PARTNERFLOW_TEMPORAL_UI_URL":    "https://ui.example",
		"PARTNERFLOW_USGOV_PORTAL_URL":   "https://portal.usgov.example",
	}
	for name := range names {
		t.Setenv(name, "")
	}
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// Unset, they stay empty: the commands then choose the simulator, simulator mode, the
	// Microsoft 365 admin center and no Web UI link.
	if c.PartnerCenterURL != "" || c.GraphURL != "" || c.PartnerCenterTenantID != "" || c.PartnerCenterClientID != "" ||
		c.PartnerCenterClientSecret != "" || c.PartnerCenterAdminPortalURL != "" || c.TemporalUIURL != "" ||
		c.Invitation.USGovPortalURL != "" {
		t.Fatalf("unset settings must stay empty: %+v", c)
	}
	for name, value := range names {
		t.Setenv(name, value)
	}
	c, err = config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"PARTNERCENTER_URL":              c.PartnerCenterURL,
		"GRAPH_URL":                      c.GraphURL,
		"PARTNERCENTER_TENANT_ID":        c.PartnerCenterTenantID,
		"PARTNERCENTER_CLIENT_ID":        c.PartnerCenterClientID,
		"PARTNERCENTER_CLIENT_SECRET":    c.PartnerCenterClientSecret,
		"PARTNERCENTER_ADMIN_PORTAL_URL": c.PartnerCenterAdminPortalURL,
		"PARTNERFLOW_TEMPORAL_UI_URL":    c.TemporalUIURL,
		"PARTNERFLOW_USGOV_PORTAL_URL":   c.Invitation.USGovPortalURL,
	}
	for name, want := range names {
		if got[name] != want {
			t.Errorf("%s=%q read as %q", name, want, got[name])
		}
	}
}

func TestPollIntervalSetSaysWhetherTheIntervalWasGiven(t *testing.T) {
	cases := []struct {
		name, value string
		interval    time.Duration
		set         bool
	}{
		{"unset means the default, not given", "", 15 * time.Minute, false},
		{"the default's value given explicitly counts as given", "15m", 15 * time.Minute, true},
		{"another interval is given", "1m", time.Minute, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PARTNERFLOW_POLL_INTERVAL", tc.value)
			c, err := config.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if c.Wait.PollInterval != tc.interval || c.Wait.PollIntervalSet != tc.set {
				t.Fatalf("PARTNERFLOW_POLL_INTERVAL=%q: interval %v set %v, want %v %v",
					tc.value, c.Wait.PollInterval, c.Wait.PollIntervalSet, tc.interval, tc.set)
			}
		})
	}
}

func TestDefaultLanguage(t *testing.T) {
	cases := []struct {
		name, value, want string
		ok                bool
	}{
		{"unset means English", "", "en", true},
		{"a supported language is taken", "it", "it", true},
		{"a regional tag names its language", "tr-TR", "tr", true},
		{"an unsupported language is refused, naming the supported ones", "de", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PARTNERFLOW_DEFAULT_LANGUAGE", tc.value)
			c, err := config.FromEnv()
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "PARTNERFLOW_DEFAULT_LANGUAGE") ||
					!strings.Contains(err.Error(), "en, it, tr") {
					t.Fatalf("want an error naming the variable and the languages, got %v", err)
				}
				return
			}
			if err != nil || c.DefaultLanguage != tc.want {
				t.Fatalf("got %q, %v", c.DefaultLanguage, err)
			}
		})
	}
}

func TestRealCredentialsGoOnlyToMicrosoft(t *testing.T) {
	cases := []struct {
		name, secret, pc, graph, override string
		ok                                bool
	}{
		{
			"the public cloud's hosts are accepted with a secret",
			"s", "https://api.partnercenter.microsoft.com", "https://graph.microsoft.com", "", true,
		},
		{
			"the US Government Graph and the China cloud are accepted",
			"s", "https://partner.partnercenterapi.microsoftonline.cn", "https://graph.microsoft.us/", "", true,
		},
		{
			"a host in capitals with the https port is accepted",
			"s", "https://API.PartnerCenter.Microsoft.com:443", "https://graph.microsoft.com", "", true,
		},
		{
			"without a secret the simulator is fine",
			"", "http://127.0.0.1:8081", "http://127.0.0.1:8081", "", true,
		},
		{
			"a secret with the simulator is refused",
			"s", "http://127.0.0.1:8081", "https://graph.microsoft.com", "", false,
		},
		{
			"a secret with Microsoft's host over http is refused",
			"s", "http://api.partnercenter.microsoft.com", "https://graph.microsoft.com", "", false,
		},
		{
			"a secret with a look-alike host is refused",
			"s", "https://api.partnercenter.microsoft.com.evil.example", "https://graph.microsoft.com", "", false,
		},
		{
			"a secret with another port is refused",
			"s", "https://api.partnercenter.microsoft.com:8443", "https://graph.microsoft.com", "", false,
		},
		{
			"a secret with a non-Microsoft Graph is refused",
			"s", "https://api.partnercenter.microsoft.com", "https://graph.example", "", false,
		},
		{
			"a secret with no URLs is refused, so dev cannot put the simulator there",
			"s", "", "", "", false,
		},
		{
			"the override lets a secret go to another host",
			"s", "https://pc-proxy.example", "http://graph-proxy.internal", "true", true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PARTNERCENTER_CLIENT_SECRET", tc.secret)
			t.Setenv("PARTNERCENTER_URL", tc.pc)
			t.Setenv("GRAPH_URL", tc.graph)
			t.Setenv("PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS", tc.override)
			_, err := config.FromEnv()
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS")) {
				t.Fatalf("want a refusal that names the override, got %v", err)
			}
		})
	}
	t.Setenv("PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS", "sometimes")
	if _, err := config.FromEnv(); err == nil ||
		!strings.Contains(err.Error(), "PARTNERFLOW_ALLOW_NON_MICROSOFT_URLS") {
		t.Fatalf("an override that is not a boolean must be refused by name, got %v", err)
	}
}

func TestEachFlowReadsItsOwnSettings(t *testing.T) {
	for name, value := range map[string]string{
		"PARTNERFLOW_DEFAULT_ASSIGNMENTS":      `[{"securityGroupId":"g","roleIds":["r"]}]`,
		"PARTNERFLOW_USGOV_PORTAL_URL":         "https://portal.office365.us",
		"PARTNERFLOW_RESELLER_PARTNERSHIP_URL": "https://partner.microsoft.com/link",
		"PARTNERFLOW_RESELLER_EXPIRE_AFTER":    "240h",
		"PARTNERFLOW_ONBOARDING_EXPIRE_AFTER":  "480h",
		"PARTNERFLOW_DELIVERY_ATTEMPTS":        "4",
		"PARTNERFLOW_DELIVERY_RETRY_INTERVAL":  "2s",
		"PARTNERFLOW_REMINDERS":                "1h,2h",
		"PARTNERFLOW_REMINDER_REPEAT":          "3h",
		"PARTNERFLOW_ESCALATE_AFTER":           "5",
	} {
		t.Setenv(name, value)
	}
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Wait: config.WaitConfig{
			Reminders: []time.Duration{time.Hour, 2 * time.Hour}, ReminderRepeat: 3 * time.Hour, EscalateAfter: 5,
		},
		Invitation: config.InvitationConfig{
			DefaultAssignments: `[{"securityGroupId":"g","roleIds":["r"]}]`,
			USGovPortalURL:     "https://portal.office365.us",
		},
		Reseller: config.ResellerConfig{
			PartnershipURL: "https://partner.microsoft.com/link",
			ExpireAfter:    240 * time.Hour,
		},
		Onboarding: config.OnboardingConfig{ExpireAfter: 480 * time.Hour},
		Removal:    config.RemovalConfig{DeliveryAttempts: 4, DeliveryRetryInterval: 2 * time.Second},
	}
	if got := c.Wait; !slices.Equal(got.Reminders, want.Wait.Reminders) ||
		got.ReminderRepeat != want.Wait.ReminderRepeat ||
		got.EscalateAfter != want.Wait.EscalateAfter {
		t.Errorf("wait %+v, want %+v", got, want.Wait)
	}
	if c.Invitation != want.Invitation || c.Reseller != want.Reseller || c.Onboarding != want.Onboarding ||
		c.Removal != want.Removal {
		t.Errorf("flows %+v %+v %+v %+v, want %+v %+v %+v %+v", c.Invitation, c.Reseller, c.Onboarding, c.Removal,
			want.Invitation, want.Reseller, want.Onboarding, want.Removal)
	}
}
