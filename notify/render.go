package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"
)

// Rendered is a message ready to send.
type Rendered struct {
	Subject, Text, HTML, Language string
	// kind is the message kind Render made it from, for the outbox.
	kind string
}

// Kind is the message kind the message was rendered from; empty for one built by hand.
func (r Rendered) Kind() string { return r.kind }

// templateFS holds one file per kind and language, templates/<kind>.<lang>.tmpl, defining
// "subject", "text" and "html" (the body inside layout.tmpl's page).
//
//go:embed templates/*.tmpl
var templateFS embed.FS

// kindTemplates holds a kind's templates in one language: text/template for the subject and
// the plain text, html/template for the HTML.
type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// compiled maps "<kind>.<lang>" to its templates; every kind exists in every language, or the
// program does not start.
var compiled = compileTemplates()

func compileTemplates() map[string]kindTemplates {
	out := map[string]kindTemplates{}
	for kind := range kindData {
		for _, lang := range languages {
			file := "templates/" + kind + "." + lang + ".tmpl"
			funcs := templateFuncs(lang)
			out[kind+"."+lang] = kindTemplates{
				text: texttemplate.Must(texttemplate.New(kind).Funcs(funcs).ParseFS(templateFS, file)),
				html: htmltemplate.Must(
					htmltemplate.New(kind).Funcs(funcs).ParseFS(templateFS, "templates/layout.tmpl", file),
				),
			}
		}
	}
	return out
}

// templateFuncs are the functions templates of one language call.
func templateFuncs(lang string) map[string]any {
	return map[string]any{
		"lang": func() string { return lang },
		// date writes a date as the language does: "2 gennaio 2026".
		"date": func(t time.Time) string { return FormatDate(lang, t) },
		// plural picks the singular or the plural form by n.
		"plural": func(n int, one, other string) string {
			if n == 1 {
				return one
			}
			return other
		},
	}
}

// Render renders a message of a kind in a language with its data (the kind's data type, or a
// pointer to one). An unsupported language falls back to DefaultLanguage; an unknown kind or
// the wrong data type is an error.
func Render(kind, lang string, data any) (Rendered, error) {
	want, ok := kindData[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("unknown message kind %q", kind)
	}
	v := reflect.ValueOf(data)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() != want {
		return Rendered{}, fmt.Errorf("message kind %q takes notify.%s, not %T", kind, want.Name(), data)
	}
	if lang, ok = ParseLanguage(lang); !ok {
		lang = DefaultLanguage
	}
	t := compiled[kind+"."+lang]
	out := Rendered{Language: lang, kind: kind}
	var buf bytes.Buffer
	if err := t.text.ExecuteTemplate(&buf, "subject", v.Interface()); err != nil {
		return Rendered{}, fmt.Errorf("render the subject of %s.%s: %w", kind, lang, err)
	}
	out.Subject = strings.Join(strings.Fields(buf.String()), " ")
	buf.Reset()
	if err := t.text.ExecuteTemplate(&buf, "text", v.Interface()); err != nil {
		return Rendered{}, fmt.Errorf("render the text of %s.%s: %w", kind, lang, err)
	}
	out.Text = tidyText(buf.String())
	buf.Reset()
	if err := t.html.ExecuteTemplate(&buf, "layout", v.Interface()); err != nil {
		return Rendered{}, fmt.Errorf("render the HTML of %s.%s: %w", kind, lang, err)
	}
	out.HTML = buf.String()
	return out, nil
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// tidyText drops trailing spaces and runs of blank lines that a template's conditions leave,
// and ends the text with one newline.
func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")) + "\n"
}
