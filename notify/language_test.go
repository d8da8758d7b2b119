package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/notify"
)

func TestLanguages(t *testing.T) {
	if got := notify.Languages(); !slices.Equal(got, []string{"en", "it", "tr"}) {
		t.Fatalf("languages %v", got)
	}
	notify.Languages()[0] = "xx"
	if notify.Languages()[0] != "en" {
		t.Fatal("a caller changed the supported languages")
	}
}

func TestParseLanguage(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"a code names its language", "it", "it", true},
		{"a regional tag names its language", "it-IT", "it", true},
		{"case does not matter", "IT", "it", true},
		{"an underscore tag as locales write it names its language", "tr_TR", "tr", true},
		{"surrounding spaces do not matter", " en-GB ", "en", true},
		{"an unsupported language is refused", "de", "", false},
		{"a language whose code merely starts like a supported one is refused", "ita", "", false},
		{"empty is refused", "", "", false},
		{"a wildcard is refused", "*", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := notify.ParseLanguage(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ParseLanguage(%q) = %q, %v", tc.in, got, ok)
			}
		})
	}
}

func TestPickLanguage(t *testing.T) {
	cases := []struct {
		name, explicit, accept, fallback, want string
	}{
		{"an explicit supported language wins", "tr", "it-IT,it;q=0.9", "en", "tr"},
		{"an unsupported explicit language is passed over", "de", "it-IT,it;q=0.9", "en", "it"},
		{"the browser's first supported language wins", "", "de-DE,de;q=0.9,it;q=0.8,en;q=0.7", "en", "it"},
		{"weights decide, not order", "", "en;q=0.5,tr;q=0.9", "it", "tr"},
		{"equal weights keep the header's order", "", "tr,it", "en", "tr"},
		{"q=0 refuses a language", "", "it;q=0,en;q=0.1", "tr", "en"},
		{"a malformed weight is ignored with its language", "", "it;q=abc,tr;q=0.2", "en", "tr"},
		{"nothing supported falls back", "", "de-DE,fr;q=0.8,*;q=0.1", "it", "it"},
		{"an unsupported fallback becomes English", "", "", "de", "en"},
		{"no preference at all is English", "", "", "", "en"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.PickLanguage(tc.explicit, tc.accept, tc.fallback); got != tc.want {
				t.Fatalf("PickLanguage(%q, %q, %q) = %q, want %q", tc.explicit, tc.accept, tc.fallback, got, tc.want)
			}
		})
	}
}

func TestFormatDate(t *testing.T) {
	jan2 := time.Date(2026, time.January, 2, 23, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		lang string
		t    time.Time
		want string
	}{
		{"English", "en", jan2, "2 January 2026"},
		{"Italian months are lower case", "it", jan2, "2 gennaio 2026"},
		{"Turkish months are capitalised", "tr", jan2, "2 Ocak 2026"},
		{"Turkish letters survive", "tr", time.Date(2026, time.February, 14, 0, 0, 0, 0, time.UTC), "14 Şubat 2026"},
		{
			"Turkish dotted and dotless i",
			"tr",
			time.Date(2025, time.November, 30, 0, 0, 0, 0, time.UTC),
			"30 Kasım 2025",
		},
		{
			"the first of the month is an ordinal in Italian",
			"it",
			time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC),
			"1º marzo 2026",
		},
		{
			"dates are UTC dates",
			"it",
			time.Date(2026, time.January, 3, 0, 30, 0, 0, time.FixedZone("CET", 3600)),
			"2 gennaio 2026",
		},
		{"an unsupported language writes English", "de", jan2, "2 January 2026"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.FormatDate(tc.lang, tc.t); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEveryLanguageNamesEveryMonth(t *testing.T) {
	for _, lang := range notify.Languages() {
		seen := map[string]bool{}
		for m := time.January; m <= time.December; m++ {
			d := notify.FormatDate(lang, time.Date(2026, m, 15, 0, 0, 0, 0, time.UTC))
			if seen[d] || len(strings.Fields(d)) != 3 {
				t.Errorf("%s writes month %d as %q", lang, m, d)
			}
			seen[d] = true
		}
	}
}
