package api

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates holds each page parsed together with the shared layout.
var pageTemplates = parsePages(
	"accept",
	"message",
	"list",
	"detail",
	"overview",
	"partnership",
	"agreement",
	"evidence",
	"connection",
	"form",
	"credentials",
)

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(
			template.New(n).Funcs(pageFuncs).ParseFS(templateFS, "templates/base.html", "templates/"+n+".html"),
		)
	}
	return out
}

// pageFuncs are the functions every page may call: t looks up a customer page's string in a
// language ({{t .Lang "accept.heading" .PartnerName .CustomerDomain}}).
var pageFuncs = template.FuncMap{"t": translate}

// Limits of what the pages record and show.
const (
	maxUserAgent = 200
)

// pageFrame is what the shared layout needs from every page.
type pageFrame struct {
	Title string
	Brand string
	// Lang is the page's language (<html lang>); empty means English.
	Lang string
	// User is the signed-in operator's key name on dashboard pages; empty on customer pages.
	User string
	// Menu is the dashboard's navigation (on dashboard pages); Nav is the key of the one
	// this page belongs to.
	Menu []navLink
	Nav  string
	// ConnectionNeeded shows the dashboard's banner asking a global admin to connect Partner
	// Center, which flows that need App+User calls wait for.
	ConnectionNeeded bool
}

// navLink is one section of the dashboard's navigation: the overview, then one per flow kind.
type navLink struct {
	Key, Label, Path string
}

// renderPage writes an HTML page.
func (s *Server) renderPage(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&buf, "base", data); err != nil {
		writeError(c, fmt.Errorf("render the %s page: %w", name, err))
		return
	}
	pageHeaders(c)
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// pageHeaders are the headers of every HTML page. They keep the customer's link, which carries
// a token, out of Referer headers sent to Microsoft's pages and out of caches, and the page out
// of other sites' frames, where a visitor could be tricked into clicking.
func pageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set(
		"Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
	)
}

// messagePage is a page that only says something: an error or a closed door.
type messagePage struct {
	pageFrame
	Heading string
	Message string
}

// writePageProblem answers err as problem+json to JSON clients and as a page to browsers.
func (s *Server) writePageProblem(c *gin.Context, err error, asJSON bool, frame pageFrame) {
	if asJSON {
		writeError(c, err)
		return
	}
	p := answer(c, err)
	frame.Title = p.Title
	s.renderPage(c, p.Status, "message", messagePage{pageFrame: frame, Heading: p.Title, Message: p.Detail})
	c.Abort()
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "application/json")
}

func (s *Server) customerFrame() pageFrame {
	brand := s.shownPartnerName()
	if brand == "" {
		brand = "partnerflow"
	}
	return pageFrame{Brand: brand}
}

// customerPageFrame is the frame of a customer page in lang, which it announces in the
// Content-Language header as well.
func (s *Server) customerPageFrame(c *gin.Context, lang string) pageFrame {
	c.Header("Content-Language", lang)
	frame := s.customerFrame()
	frame.Lang = lang
	return frame
}

// shownPartnerName is the partner's name as customers see it (connection.PartnerName): the
// configured one, or else the company name the Partner Center connection read from the
// partner's profile; "" when neither is known.
func (s *Server) shownPartnerName() string {
	if s.connection == nil {
		return s.flows.PartnerName
	}
	return connection.PartnerName(s.flows.PartnerName, s.connection.CompanyName())
}

// localPartnerName is the partner's name, or "your partner" in lang when none is known.
func (s *Server) localPartnerName(lang string) string {
	if name := s.shownPartnerName(); name != "" {
		return name
	}
	return translate(lang, "partner.unknown")
}

func (s *Server) partnerName() string {
	if name := s.shownPartnerName(); name != "" {
		return name
	}
	return "your partner"
}

// untilText says how long until t: "expires in 12 days", or "expired".
func untilText(now, t time.Time) string {
	if !t.After(now) {
		return "expired"
	}
	return "expires in " + spanText(t.Sub(now))
}

// agoText says how long ago t was: "3 days ago".
func agoText(now, t time.Time) string {
	if now.Sub(t) < time.Minute {
		return "just now"
	}
	return spanText(now.Sub(t)) + " ago"
}

// spanText rounds a span down to its largest whole unit.
func spanText(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return "less than a minute"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// truncate cuts s to at most n characters without splitting one.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// customerLink is a flow's signed link to a customer's or reseller's page: what its token was
// signed for, the path a refusal names in place of the token, and the catalog prefix of its
// refusals (<catalog>.expired.title, .invalid.detail, .gone.title, …).
type customerLink struct {
	purpose  string
	instance string
	catalog  string
}

// rowFromLink checks a link's token and finds the flow it names. An expired, altered or stale
// link is refused in the visitor's language on a page, and in English to a JSON client.
func rowFromLink[R models.FlowRow, S any](
	s *Server,
	c *gin.Context,
	f flowAPI[R, S],
	l customerLink,
	asJSON bool,
) (*R, bool) {
	lang := s.customerLanguage(c)
	refuse := func(status int, slug, key string) (*R, bool) {
		in, name := lang, s.localPartnerName(lang)
		if asJSON {
			in, name = "en", s.partnerName()
		}
		p := NewProblem(status, slug, translate(in, l.catalog+"."+key+".title"),
			translate(in, l.catalog+"."+key+".detail", name))
		p.Instance = l.instance // never echo the token
		s.writePageProblem(c, p, asJSON, s.customerPageFrame(c, lang))
		return nil, false
	}
	id, err := s.links.Verify(l.purpose, c.Param("token"), s.flows.Now())
	switch {
	case errors.Is(err, links.ErrExpired):
		return refuse(http.StatusGone, "link-expired", "expired")
	case err != nil:
		return refuse(http.StatusBadRequest, "invalid-link", "invalid")
	}
	row, err := f.find(c.Request.Context(), s, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return refuse(http.StatusNotFound, "not-found", "gone")
	case err != nil:
		writeError(c, fmt.Errorf("find the %s of a link: %w", f.noun(), err))
		return nil, false
	}
	return row, true
}
