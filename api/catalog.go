package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/notify"
)

// catalogFS holds the customer pages' strings, one file per language (catalogs/<lang>.json),
// each mapping the same keys to that language's text; fmt verbs with explicit argument indexes
// let a language order the arguments as it needs.
//
//go:embed catalogs/*.json
var catalogFS embed.FS

// catalogs maps each supported language to its strings.
var catalogs = loadCatalogs()

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range notify.Languages() {
		raw, err := catalogFS.ReadFile("catalogs/" + lang + ".json")
		if err != nil {
			panic(fmt.Sprintf("the page catalog of %s is missing: %v", lang, err))
		}
		var texts map[string]string
		if err := json.Unmarshal(raw, &texts); err != nil {
			panic(fmt.Sprintf("the page catalog of %s is not a JSON object of strings: %v", lang, err))
		}
		out[lang] = texts
	}
	return out
}

// translate returns the text of key in lang, with args filled in; a language that lacks the key
// gives the default language's text, and a key no catalog has shows as itself, so a missing
// string is visible rather than fatal (the catalog tests keep the languages complete).
func translate(lang, key string, args ...any) string {
	text, ok := catalogs[lang][key]
	if !ok {
		if text, ok = catalogs[notify.DefaultLanguage][key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return text
	}
	return fmt.Sprintf(text, args...)
}

// customerLanguage is the language of a customer page: the link's ?lang= when supported, else
// the browser's Accept-Language, else the configured default.
func (s *Server) customerLanguage(c *gin.Context) string {
	return notify.PickLanguage(c.Query("lang"), c.GetHeader("Accept-Language"), s.flows.DefaultLanguage)
}

// languageLink offers a customer page in another language, named in that language.
type languageLink struct {
	Code, Name string
}

// languageLinks are the languages a customer page is offered in.
var languageLinks = []languageLink{{"en", "English"}, {"it", "Italiano"}, {"tr", "Türkçe"}}

// localUntil says in lang how long until t: "expires in 12 days", "scade tra 12 giorni".
func localUntil(lang string, now, t time.Time) string {
	if !t.After(now) {
		return translate(lang, "span.expired")
	}
	return translate(lang, "span.expires_in", localSpan(lang, t.Sub(now)))
}

// localSpan rounds a span down to its largest whole unit, in lang.
func localSpan(lang string, d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return localCount(lang, int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return localCount(lang, int(d/time.Hour), "hour")
	case d >= time.Minute:
		return localCount(lang, int(d/time.Minute), "minute")
	}
	return translate(lang, "span.less_than_a_minute")
}

// localCount is n units in lang: "1 day", "2 giorni", "3 gün".
func localCount(lang string, n int, unit string) string {
	form := "other"
	if n == 1 {
		form = "one"
	}
	return translate(lang, "span."+unit+"."+form, n)
}

// localDateTime is t's date and time (UTC) as lang writes them.
func localDateTime(lang string, t time.Time) string {
	return translate(lang, "datetime", notify.FormatDate(lang, t), t.UTC().Format("15:04"))
}
