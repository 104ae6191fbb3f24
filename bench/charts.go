package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/kafka/bench/internal/workload"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// charts writes four PNGs: throughput and CPU per message, for produce and
// for consume (the latency scenarios have charts of their own,
// latencyCharts). Each has one panel per message size (their scales differ by
// orders of magnitude); within a panel, one group of bars per scenario, one
// bar per client (the median), with a whisker from the fastest to the
// slowest run.
func (r *Report) charts(dir string) error {
	for _, mode := range []string{"produce", "consume"} {
		for _, metric := range []struct {
			file, title, unit string
			get               func(Result) Spread
		}{
			{"throughput", "throughput", "messages per second", func(x Result) Spread { return x.MsgsPerSecSpread }},
			{"cpu", "client CPU per message", "µs of CPU (user+sys) per message", func(x Result) Spread { return x.CPUusPerMsgSpread }},
		} {
			path := filepath.Join(dir, mode+"-"+metric.file+".png")
			if err := r.chart(path, mode, mode+": "+metric.title, metric.unit, r.resultValue(metric.get), false); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	return r.latencyCharts(dir)
}

// chartValue is a bar's value for one client in one scenario: the median,
// with the runs' min and max; false if the client has none there.
type chartValue func(c clientDef, sc Scenario) (Spread, bool)

// resultValue is get applied to the client's result in the scenario.
func (r *Report) resultValue(get func(Result) Spread) chartValue {
	return func(c clientDef, sc Scenario) (Spread, bool) {
		for _, res := range r.Results {
			if res.Client == c.Name && res.Scenario == sc.Name() && res.RunsOK > 0 {
				return get(res), true
			}
		}
		return Spread{}, false
	}
}

// latencyCharts writes latency-p99.png (produce call to delivery report)
// and, after -e2e, latency-e2e-p99.png (produce call to the consumer): per
// rate and linger, one bar per client (the median p99 over the runs), with
// a whisker from the lowest to the highest run.
func (r *Report) latencyCharts(dir string) error {
	e2e := slices.ContainsFunc(r.Scenarios, func(s Scenario) bool { return s.Rate > 0 && s.E2E })
	for _, ch := range []struct {
		file, title string
		on          bool
		p99         func(*workload.LatencyResult) (int64, bool)
	}{
		{"latency-p99.png", "produce latency p99 (produce call to delivery report)", true, func(l *workload.LatencyResult) (int64, bool) { return l.P99, true }},
		{"latency-e2e-p99.png", "end-to-end latency p99 (produce call to the consumer)", e2e, func(l *workload.LatencyResult) (int64, bool) {
			if l.E2E == nil || l.E2E.Err != "" || l.E2E.Messages == 0 {
				return 0, false
			}
			return l.E2E.P99, true
		}},
	} {
		path := filepath.Join(dir, ch.file)
		if !ch.on {
			os.Remove(path)
			continue
		}
		value := func(c clientDef, sc Scenario) (Spread, bool) {
			var ms []float64
			for _, run := range r.Runs {
				if run.Client != c.Name || run.Scenario != sc.Name() || run.Err != "" || run.Latency == nil || run.Index < 0 {
					continue
				}
				if v, ok := ch.p99(run.Latency); ok {
					ms = append(ms, float64(v)/float64(time.Millisecond))
				}
			}
			if len(ms) == 0 {
				return Spread{}, false
			}
			return spread(ms), true
		}
		if err := r.chart(path, "produce", ch.title, "milliseconds", value, true); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// chart draws one panel per message size of mode's scenarios: the latency
// scenarios alone if rated, the others alone if not.
func (r *Report) chart(path, mode, title, unit string, value chartValue, rated bool) error {
	var sizes []int
	for _, sc := range r.Scenarios {
		if sc.Mode == mode && (sc.Rate > 0) == rated && !slices.Contains(sizes, sc.Size) {
			sizes = append(sizes, sc.Size)
		}
	}
	if len(sizes) == 0 {
		os.Remove(path) // no stale chart from an earlier invocation
		return nil
	}
	clients := r.Clients
	maxGroups := 0
	for _, size := range sizes {
		n := 0
		for _, sc := range r.Scenarios {
			if sc.Mode == mode && sc.Size == size && (sc.Rate > 0) == rated {
				n++
			}
		}
		maxGroups = max(maxGroups, n)
	}
	width := max(9*vg.Inch, vg.Length(maxGroups*len(clients))*0.22*vg.Inch+2*vg.Inch)
	panel := 3.2 * vg.Inch
	height := vg.Length(len(sizes))*panel + 0.5*vg.Inch
	// Bar width: the panel's data area is roughly the width less the
	// axis and legend margins, shared by the groups.
	groupW := (width - 2.2*vg.Inch) / vg.Length(maxGroups)
	barW := groupW * 0.8 / vg.Length(len(clients))

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	var plots [][]*plot.Plot
	for si, size := range sizes {
		var scs []Scenario
		for _, sc := range r.Scenarios {
			if sc.Mode == mode && sc.Size == size && (sc.Rate > 0) == rated {
				scs = append(scs, sc)
			}
		}
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s — %s messages", title, sizeName(size))
		if si > 0 {
			p.Title.Text = sizeName(size) + " messages"
		}
		p.Y.Label.Text = unit
		p.Y.Min = 0
		var names []string
		for _, sc := range scs {
			if rated {
				names = append(names, fmt.Sprintf("%s/s, linger %v", num(float64(sc.Rate)), sc.Linger()))
				continue
			}
			names = append(names, strings.TrimPrefix(sc.Short(), sizeName(size)+" "))
		}
		p.NominalX(names...)
		p.Y.Tick.Marker = shortTicks{}
		for ci, c := range clients {
			vals := make(plotter.Values, len(scs))
			w := &whiskers{}
			for gi, sc := range scs {
				if s, ok := value(c, sc); ok {
					vals[gi] = s.Median
					w.x = append(w.x, float64(gi))
					w.lo = append(w.lo, s.Min)
					w.hi = append(w.hi, s.Max)
				}
			}
			bars, err := plotter.NewBarChart(vals, barW)
			if err != nil {
				return err
			}
			bars.LineStyle.Width = 0
			bars.Color = plotutil.Color(ci)
			bars.Offset = (vg.Length(ci) - vg.Length(len(clients)-1)/2) * barW
			w.offset = bars.Offset
			p.Add(bars, w)
			if si == 0 {
				legend.Add(c.Name, bars)
			}
		}
		p.Add(plotter.NewGrid())
		plots = append(plots, []*plot.Plot{p})
	}
	legendW := 1.6 * vg.Inch
	img := vgimg.New(width+legendW, height)
	dc := draw.New(img)
	// The legend gets a strip of its own on the right, so it never hides
	// a bar.
	legend.Draw(draw.Crop(dc, width, 0, 0, -0.4*vg.Inch))
	tiles := draw.Tiles{Rows: len(sizes), Cols: 1, PadTop: 2, PadBottom: 2, PadX: 2, PadY: 8}
	canvases := plot.Align(plots, tiles, draw.Crop(dc, 0, -legendW, 0, 0))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// whiskers draws min-max lines over one client's bars; offset is the
// bars' offset, so each whisker sits on its bar.
type whiskers struct {
	x, lo, hi []float64
	offset    vg.Length
}

func (w *whiskers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	style := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	cap := vg.Points(2)
	for i := range w.x {
		x := trX(w.x[i]) + w.offset
		lo, hi := trY(w.lo[i]), trY(w.hi[i])
		c.StrokeLine2(style, x, lo, x, hi)
		c.StrokeLine2(style, x-cap, lo, x+cap, lo)
		c.StrokeLine2(style, x-cap, hi, x+cap, hi)
	}
}

// DataRange makes the axes leave room for the whiskers.
func (w *whiskers) DataRange() (xmin, xmax, ymin, ymax float64) {
	if len(w.x) == 0 {
		return 0, 0, 0, 0
	}
	xmin, xmax = slices.Min(w.x), slices.Max(w.x)
	return xmin, xmax, 0, slices.Max(w.hi)
}

// shortTicks labels the Y axis 250k, 1.5M rather than 250000.00.
type shortTicks struct{}

func (shortTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		if max >= 1000 {
			ticks[i].Label = num(ticks[i].Value)
		} else {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 3, 64)
		}
	}
	return ticks
}
