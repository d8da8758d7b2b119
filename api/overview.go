package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// The overview draws each flow kind of the partner: how many flows are in each status, how far
// they get (a funnel over the timeline's steps), and how long the customer takes. The charts are
// inline SVG made by the template, so the page needs no script and no asset, which its
// Content-Security-Policy would refuse anyway.

func (s *Server) overviewRoutes(root *gin.RouterGroup) {
	s.handle(root, "GET", "/overview", sessionRule(), s.overview)
}

// funnelStep is one bar of a flow kind's funnel: a timeline step and how the chart names it.
type funnelStep struct {
	Step  string
	Label string
}

// flowOverview is what the overview shows of one flow kind; every flow's registration holds
// one, made by overviewOf.
type flowOverview struct {
	Kind string
	// Title heads the kind's section and names its list, at ListPath.
	Title    string
	ListPath string
	// Noun and Nouns name one and several flows in sentences ("invitation").
	Noun, Nouns string
	// Statuses are the kind's statuses in lifecycle order.
	Statuses []string
	Funnel   []funnelStep
	// DoneStep is the step whose median time from a flow's creation the section shows, as
	// DoneLabel ("Median time to accept"), or NoneDone while no flow has reached it.
	DoneStep  string
	DoneLabel string
	NoneDone  string
	// only restricts the funnel and the median to the flows whose row meets these SQL conditions
	// (alias f): constants, never input.
	only []string

	stats func(ctx context.Context, store *models.Store, partnerID string) (flowStats, error)
}

// flowStats are one flow kind's numbers for one partner.
type flowStats struct {
	Statuses []models.Count
	Funnel   []models.Count
	// Median is the median time to DoneStep, over DoneFlows flows.
	Median    time.Duration
	DoneFlows int
}

// overviewOf binds an overview entry to its flow's row type, R, whose table the queries read.
func overviewOf[R any](o flowOverview) flowOverview {
	steps := make([]string, len(o.Funnel))
	for i, f := range o.Funnel {
		steps[i] = f.Step
	}
	o.stats = func(ctx context.Context, store *models.Store, partnerID string) (flowStats, error) {
		var st flowStats
		var err error
		if st.Statuses, err = models.StatusCounts[R](ctx, store, partnerID, o.Statuses); err != nil {
			return st, fmt.Errorf("overview of %s flows: %w", o.Kind, err)
		}
		if st.Funnel, err = models.Funnel[R](ctx, store, o.Kind, partnerID, steps, o.only...); err != nil {
			return st, fmt.Errorf("overview of %s flows: %w", o.Kind, err)
		}
		if st.Median, st.DoneFlows, err = models.MedianTimeToStep[R](
			ctx,
			store,
			o.Kind,
			partnerID,
			o.DoneStep,
			o.only...,
		); err != nil {
			return st, fmt.Errorf("overview of %s flows: %w", o.Kind, err)
		}
		return st, nil
	}
	return o
}

// Geometry of the charts, in SVG user units: a label column, then bars up to barSpan wide, then
// the number. The SVG scales to the page's width.
const (
	chartWidth  = 640
	labelWidth  = 160
	barSpan     = 380
	rowHeight   = 28
	barHeight   = 18
	scaleHeight = 48
)

// chartBar is one row of a horizontal bar chart, placed in Go so the template only prints.
type chartBar struct {
	Label string
	// Value is printed after the bar: the count, and for a funnel its share of the first step.
	Value string
	// Class colours the bar: a status (as its badge) or "step".
	Class               string
	X, Y, Width, Height int
	TextX, TextY        int
}

// barChart is a horizontal bar chart with its accessible description.
type barChart struct {
	ID     string
	Title  string
	Width  int
	Height int
	Bars   []chartBar
}

// scaleTick is a labelled mark on the median's time scale.
type scaleTick struct {
	X     int
	Label string
}

// medianView is the median time to the kind's done step, as text and as a bar on a scale of
// the time a flow waits for the customer.
type medianView struct {
	ID    string
	Label string
	// Text is the median ("3 days 4 hours"), Of how many flows it is of; empty Text means none
	// and None says so.
	Text  string
	Of    string
	None  string
	Title string
	// The chart: a track of Span from X, the median's bar of BarWidth over it, and the ticks.
	Width, Height int
	X, Span       int
	BarWidth      int
	Ticks         []scaleTick
}

// overviewSection is one flow kind on the page.
type overviewSection struct {
	Kind     string
	Title    string
	ListPath string
	Total    string
	Empty    string
	Statuses barChart
	Funnel   barChart
	Median   medianView
}

type overviewPage struct {
	pageFrame
	Sections []overviewSection
}

// overview draws every flow kind of the partner.
func (s *Server) overview(c *gin.Context) {
	page := overviewPage{pageFrame: s.dashboardFrame(c, "Overview")}
	page.Nav = "overview"
	for _, reg := range flowRegistrations {
		f := reg.overview
		st, err := f.stats(c.Request.Context(), s.store, s.flows.PartnerID)
		if err != nil {
			writeError(c, err)
			return
		}
		page.Sections = append(page.Sections, f.section(st, s.flows.longestWait()))
	}
	s.renderPage(c, http.StatusOK, "overview", page)
}

// section lays out a kind's numbers; scale is the longest wait the median's bar can show.
func (f flowOverview) section(st flowStats, scale time.Duration) overviewSection {
	var total int64
	for _, c := range st.Statuses {
		total += c.N
	}
	sec := overviewSection{Kind: f.Kind, Title: f.Title, ListPath: f.ListPath, Total: countOf(total, f.Noun, f.Nouns)}
	if total == 0 {
		sec.Empty = "No " + f.Nouns + " yet."
		return sec
	}

	statuses := make([]chartBar, len(st.Statuses))
	parts := make([]string, len(st.Statuses))
	for i, c := range st.Statuses {
		statuses[i] = chartBar{Label: c.Name, Value: strconv.FormatInt(c.N, 10), Class: c.Name}
		parts[i] = c.Name + " " + strconv.FormatInt(c.N, 10)
	}
	sec.Statuses = layoutBars(
		f.Kind+"-statuses",
		f.Title+" by status: "+strings.Join(parts, ", "),
		statuses,
		st.Statuses,
	)

	funnel := make([]chartBar, len(st.Funnel))
	parts = make([]string, len(st.Funnel))
	first := int64(0)
	if len(st.Funnel) > 0 {
		first = st.Funnel[0].N
	}
	for i, c := range st.Funnel {
		label := f.Funnel[i].Label
		value := strconv.FormatInt(c.N, 10) + " · " + percentOf(c.N, first)
		funnel[i] = chartBar{Label: label, Value: value, Class: "step"}
		parts[i] = label + " " + strconv.FormatInt(c.N, 10) + " (" + percentOf(c.N, first) + ")"
	}
	sec.Funnel = layoutBars(
		f.Kind+"-funnel",
		"How far "+f.Nouns+" get, with each step's share of the first: "+strings.Join(parts, ", "),
		funnel,
		st.Funnel,
	)

	sec.Median = f.median(st, scale)
	return sec
}

// layoutBars places bars one row apart, each as wide as its count's share of the largest.
func layoutBars(id, title string, bars []chartBar, counts []models.Count) barChart {
	var most int64
	for _, c := range counts {
		most = max(most, c.N)
	}
	for i := range bars {
		w := 0
		if most > 0 {
			w = int(counts[i].N * barSpan / most)
		}
		if counts[i].N > 0 {
			w = max(w, 2) // a count of one among thousands still shows
		}
		bars[i].X, bars[i].Y = labelWidth, i*rowHeight+(rowHeight-barHeight)/2
		bars[i].Width, bars[i].Height = w, barHeight
		bars[i].TextX, bars[i].TextY = labelWidth+w+8, i*rowHeight+rowHeight/2+5
	}
	return barChart{ID: id, Title: title, Width: chartWidth, Height: len(bars) * rowHeight, Bars: bars}
}

func (f flowOverview) median(st flowStats, scale time.Duration) medianView {
	m := medianView{ID: f.Kind + "-median", Label: f.DoneLabel, None: f.NoneDone,
		Width: chartWidth, Height: scaleHeight, X: labelWidth, Span: barSpan}
	if st.DoneFlows == 0 {
		return m
	}
	m.Text = durationText(st.Median)
	m.Of = "over " + countOf(int64(st.DoneFlows), f.Noun, f.Nouns)
	days := int(scale / (24 * time.Hour))
	m.Title = fmt.Sprintf("%s: %s, on a scale of 0 to %d days", f.DoneLabel, m.Text, days)
	m.BarWidth = int(float64(min(st.Median, scale)) / float64(scale) * barSpan)
	if st.Median > 0 {
		m.BarWidth = max(m.BarWidth, 2)
	}
	for i := range 4 {
		label := strconv.Itoa(days * i / 3)
		if i == 3 {
			label += " days"
		}
		m.Ticks = append(m.Ticks, scaleTick{X: labelWidth + barSpan*i/3, Label: label})
	}
	return m
}

// percentOf is n as a whole percentage of total, or "—" when total is zero.
func percentOf(n, total int64) string {
	if total == 0 {
		return "—"
	}
	return strconv.FormatInt((n*100+total/2)/total, 10) + "%"
}

func countOf(n int64, noun, nouns string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + nouns
}

// durationText says a span in its two largest units, rounded down: "3 days 4 hours".
func durationText(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d >= day:
		return joinUnits(plural(int(d/day), "day"), int(d%day/time.Hour), "hour")
	case d >= time.Hour:
		return joinUnits(plural(int(d/time.Hour), "hour"), int(d%time.Hour/time.Minute), "minute")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return "less than a minute"
}

func joinUnits(first string, n int, unit string) string {
	if n == 0 {
		return first
	}
	return first + " " + plural(n, unit)
}
