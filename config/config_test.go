package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/config"
)

func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	for _, name := range []string{"PARTNERFLOW_DATA_DIR", "PARTNERFLOW_HTTP_ADDR", "TEMPORAL_ADDRESS", "PARTNERFLOW_TEMPORAL_PORT", "PARTNERFLOW_UI_PORT", "DATABASE_URL", "PARTNERFLOW_SIM_ADDR", "PARTNERFLOW_POLL_INTERVAL", "PARTNERFLOW_REMINDERS"} {
		t.Setenv(name, "")
	}
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./.partnerflow" || c.HTTPAddr != "127.0.0.1:8080" || c.TemporalPort != 7233 || c.UIPort != 8233 || c.SimAddr != "127.0.0.1:8081" {
		t.Fatalf("defaults %+v", c)
	}
	if c.AppDatabase() != ".partnerflow/partnerflow.db" || c.BaseURL() != "http://127.0.0.1:8080" {
		t.Fatalf("derived %q %q", c.AppDatabase(), c.BaseURL())
	}
	if len(c.Reminders) != 3 || c.Reminders[2] != 14*24*time.Hour || c.PollInterval != 15*time.Minute {
		t.Fatalf("policy %+v %v", c.Reminders, c.PollInterval)
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
