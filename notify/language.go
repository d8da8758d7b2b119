package notify

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultLanguage is the language of messages whose recipient's language is unknown or not
// supported.
const DefaultLanguage = "en"

// languages are the supported languages, as ISO 639-1 codes; DefaultLanguage first.
var languages = []string{"en", "it", "tr"}

// Languages returns the supported languages' codes.
func Languages() []string { return slices.Clone(languages) }

// ParseLanguage returns the supported language a tag names ("it", "it-IT", "IT" and "it_IT" all
// name "it"), or false when it names none.
func ParseLanguage(s string) (string, bool) {
	tag := strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	if tag == "" || !slices.Contains(languages, tag) {
		return "", false
	}
	return tag, true
}

// PickLanguage chooses a message's or page's language: explicit when it is supported, else
// the best supported match of an Accept-Language header, else fallback, else DefaultLanguage.
func PickLanguage(explicit, acceptLanguage, fallback string) string {
	if l, ok := ParseLanguage(explicit); ok {
		return l
	}
	if l, ok := bestAccepted(acceptLanguage); ok {
		return l
	}
	if l, ok := ParseLanguage(fallback); ok {
		return l
	}
	return DefaultLanguage
}

// bestAccepted returns the supported language an Accept-Language header (RFC 9110) prefers:
// highest weight first, the header's order among equal weights; q=0 refuses a language.
func bestAccepted(header string) (string, bool) {
	best, bestQ := "", 0.0
	for item := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(item, ";")
		lang, ok := ParseLanguage(tag)
		if !ok {
			continue
		}
		q := 1.0
		if name, value, found := strings.Cut(strings.TrimSpace(params), "="); found &&
			strings.EqualFold(strings.TrimSpace(name), "q") {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			q = v
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best, best != ""
}

// monthNames are each language's month names, as written inside a date.
var monthNames = map[string][12]string{
	"en": {
		"January",
		"February",
		"March",
		"April",
		"May",
		"June",
		"July",
		"August",
		"September",
		"October",
		"November",
		"December",
	},
	"it": {
		"gennaio",
		"febbraio",
		"marzo",
		"aprile",
		"maggio",
		"giugno",
		"luglio",
		"agosto",
		"settembre",
		"ottobre",
		"novembre",
		"dicembre",
	},
	"tr": {
		"Ocak",
		"Şubat",
		"Mart",
		"Nisan",
		"Mayıs",
		"Haziran",
		"Temmuz",
		"Ağustos",
		"Eylül",
		"Ekim",
		"Kasım",
		"Aralık",
	},
}

// FormatDate writes t's date (in UTC) as people of the language write it: "2 January 2026",
// "2 gennaio 2026" ("1º gennaio" for the first), "2 Ocak 2026". An unsupported language gets
// English.
func FormatDate(lang string, t time.Time) string {
	lang, ok := ParseLanguage(lang)
	if !ok {
		lang = DefaultLanguage
	}
	t = t.UTC()
	day := strconv.Itoa(t.Day())
	if lang == "it" && t.Day() == 1 {
		day = "1º"
	}
	return day + " " + monthNames[lang][t.Month()-1] + " " + strconv.Itoa(t.Year())
}
