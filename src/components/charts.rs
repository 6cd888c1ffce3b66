//! Live charts drawn with plotters on canvas. The figures come from the engine's `views`; this
//! file only draws them, on each published snapshot while the charts are on screen.
//!
//! Canvases are sized in device pixels and every length is scaled by the pixel ratio, so lines
//! and text stay crisp on high-DPI screens. Keys are HTML beside the canvases, never drawn over
//! the data: one stage key for every chart (a stage has one colour everywhere) and a line key
//! under each chart that has more than one figure. "Export PNG" (`chart_png`) draws a chart
//! again into an image of the same pixel size, with its key in a strip below the axes.

use std::ops::Range;

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use stampede_engine::{
    activity_over_time, count_axis, errors_over_time, histogram, judge, knee, latency_cdf,
    latency_over_time, nice_max, tokens_over_time, vs_concurrency, Aggregator, CountAxis, LoadUnit,
    Scaling, Slo, SloMetric, StageFigure, StageStats, StageVerdict,
};
use stampede_engine::{ErrorClass, ErrorsOverTime};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::chart_png::{export_if_asked, ExportPng, Ink, PngExport};
use crate::browser::canvas::Canvas2d;
use crate::browser::env;
use crate::state::{AppState, Overlay, Phase, Shown};

/// One colour per stage on every chart and in the stage key. Red is left out: on these charts
/// it means "failed".
const STAGE_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

fn stage_color(i: usize) -> RGBColor {
    STAGE_COLORS[i % STAGE_COLORS.len()]
}

/// The page's colours (the same as `style/main.css`) and pixel ratio now.
struct Theme {
    fg: RGBColor,
    muted: RGBColor,
    error: RGBColor,
    bg: RGBColor,
    grid: RGBColor,
    scale: f64,
}

impl Theme {
    fn current() -> Theme {
        let dark = env::prefers_dark();
        let pick = |light: RGBColor, dark_: RGBColor| if dark { dark_ } else { light };
        Theme {
            fg: pick(RGBColor(30, 32, 38), RGBColor(220, 222, 228)),
            muted: pick(RGBColor(91, 97, 112), RGBColor(154, 160, 173)),
            error: pick(RGBColor(179, 38, 30), RGBColor(255, 138, 128)),
            bg: pick(RGBColor(255, 255, 255), RGBColor(24, 26, 31)),
            grid: pick(RGBColor(225, 228, 234), RGBColor(60, 63, 72)),
            scale: env::device_pixel_ratio(),
        }
    }
    fn px(&self, v: f64) -> u32 {
        (v * self.scale).round() as u32
    }
    fn font(&self, size: f64) -> TextStyle<'static> {
        ("sans-serif", size * self.scale)
            .into_font()
            .color(&self.fg)
    }
}

/// A line on a by-stage chart: its figure, drawn in the text colour or the muted one, solid or
/// dashed (the key under the chart says which is which). Points are in their stage's colour.
struct Series {
    muted: bool,
    dashed: bool,
    figure: StageFigure,
}

/// What the SLO adds to a by-concurrency chart: a line per threshold on a figure the chart
/// shows, and the knee (the last load that met the SLO, the first that failed).
#[derive(Default)]
struct SloMarks {
    limits: Vec<(f64, String)>,
    meets_up_to: Option<f64>,
    first_failing: Option<f64>,
}

impl SloMarks {
    /// Marks for a chart showing the figures `shown`, with the knee of `stats` under `slo`.
    fn new(slo: &Slo, stats: &[StageStats], shown: &[SloMetric]) -> SloMarks {
        let verdicts: Vec<StageVerdict> = stats.iter().map(|s| judge(s, slo)).collect();
        let k =
            knee(stats, &verdicts).filter(|k| k.unit == LoadUnit::Concurrency && !slo.is_empty());
        SloMarks {
            limits: shown
                .iter()
                .filter_map(|m| Some((slo.get(*m)?, format!("SLO {}", m.name()))))
                .collect(),
            meets_up_to: k.as_ref().and_then(|k| k.meets_up_to),
            first_failing: k.and_then(|k| k.first_failing),
        }
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

type Area = DrawingArea<Canvas2d, plotters::coord::Shift>;
type Chart<'a> = ChartContext<'a, Canvas2d, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Size the canvas to its CSS box in device pixels and hand back a backend for it.
fn backend(canvas: &web_sys::HtmlCanvasElement, scale: f64) -> Option<Canvas2d> {
    let w = (f64::from(canvas.client_width()) * scale).round() as u32;
    let h = (f64::from(canvas.client_height()) * scale).round() as u32;
    if w == 0 || h == 0 {
        return None;
    }
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    Canvas2d::new(canvas.clone())
}

/// Draw on `canvas` when it is in the page and has a size (a hidden canvas has none).
fn draw_on(canvas: NodeRef<Canvas>, t: &Theme, paint: impl Fn(&Area) -> DrawResult) -> DrawResult {
    let Some(el) = canvas.get() else {
        return Ok(());
    };
    let Some(b) = backend(&el, t.scale) else {
        return Ok(());
    };
    let area = b.into_drawing_area();
    paint(&area)?;
    area.present()?;
    // "Export PNG" asked for this chart: the same drawing again, into the image.
    let ink = Ink {
        bg: t.bg,
        fg: t.fg,
        scale: t.scale,
    };
    export_if_asked(&el, &ink, &paint)
}

/// What differs between the charts' frames.
struct Frame<'a> {
    caption: &'a str,
    x: Range<f64>,
    y: Range<f64>,
    x_desc: &'a str,
    y_desc: &'a str,
    /// Room for the y labels and title, in CSS pixels: wider for large figures (tokens/s).
    y_labels: f64,
    /// Count axes: whole-number ticks only.
    x_count: Option<CountAxis>,
    y_count: Option<CountAxis>,
    /// Room for a right-hand axis, in CSS pixels (0: none).
    right: f64,
}

/// The frame every chart shares: background, caption, margins, and axes in the theme. The
/// label areas leave a line's height between the tick labels and the axis titles.
fn frame<'a>(area: &'a Area, t: &Theme, f: Frame) -> Result<Chart<'a>, Box<dyn std::error::Error>> {
    let mut chart = build(area, t, &f)?;
    mesh(&mut chart, t, &f)?;
    Ok(chart)
}

/// The frame without its axes: a chart with a second y axis must set that before the mesh is
/// drawn, or the first axis's labels fill the right-hand area too.
fn build<'a>(
    area: &'a Area,
    t: &Theme,
    f: &Frame,
) -> Result<Chart<'a>, Box<dyn std::error::Error>> {
    area.fill(&t.bg)?;
    Ok(ChartBuilder::on(area)
        .caption(f.caption, t.font(13.0))
        .margin(t.px(10.0))
        .x_label_area_size(t.px(40.0))
        .y_label_area_size(t.px(f.y_labels))
        .right_y_label_area_size(t.px(f.right))
        .build_cartesian_2d(f.x.clone(), f.y.clone())?)
}

fn mesh(chart: &mut Chart, t: &Theme, f: &Frame) -> DrawResult {
    let whole = |v: &f64| format!("{v:.0}");
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .axis_desc_style(t.font(11.0))
        .x_desc(f.x_desc)
        .y_desc(f.y_desc);
    if let Some(c) = f.x_count {
        mesh.x_labels(c.labels).x_label_formatter(&whole);
    }
    if let Some(c) = f.y_count {
        mesh.y_labels(c.labels).y_label_formatter(&whole);
    }
    mesh.draw()?;
    Ok(())
}

/// A chart with nothing to draw says so where its data would be.
fn note(area: &Area, t: &Theme, caption: &str, text: &str) -> DrawResult {
    area.fill(&t.bg)?;
    let (w, h) = area.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw(&Text::new(
        caption.to_string(),
        (w as i32 / 2, t.px(16.0) as i32),
        t.font(13.0).pos(centre),
    ))?;
    area.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        t.font(13.0).color(&t.muted).pos(centre),
    ))?;
    Ok(())
}

const NO_SUCCESS: &str = "No successful requests";

/// Bars per bin, the stages stacked in their colours.
fn draw_histogram(
    area: &Area,
    t: &Theme,
    caption: &str,
    x_desc: &str,
    values: &[(u32, f64)],
    stages: usize,
) -> DrawResult {
    let h = histogram(values, stages);
    if h.is_empty() {
        return note(area, t, caption, NO_SUCCESS);
    }
    let width = h.width();
    let axis = count_axis(f64::from(h.tallest()));
    let mut chart = frame(
        area,
        t,
        Frame {
            caption,
            x: h.lo..h.hi,
            y: 0.0..axis.max,
            x_desc,
            y_desc: "requests",
            y_labels: 52.0,
            x_count: None,
            y_count: Some(axis),
            right: 0.0,
        },
    )?;
    let mut base = vec![0u32; h.counts.first().map_or(0, Vec::len)];
    for (stage, counts) in h.counts.iter().enumerate() {
        let color = stage_color(stage);
        let bars = counts.iter().zip(base.iter_mut()).enumerate();
        chart.draw_series(bars.filter(|(_, (&c, _))| c > 0).map(|(i, (&c, b))| {
            let x0 = h.lo + i as f64 * width;
            let y0 = f64::from(*b);
            *b += c;
            Rectangle::new(
                [(x0, y0), (x0 + width, f64::from(*b))],
                color.mix(0.85).filled(),
            )
        }))?;
    }
    Ok(())
}

fn draw_over_time(area: &Area, t: &Theme, agg: &Aggregator, stages: usize) -> DrawResult {
    const CAPTION: &str = "Latency over time (✕ failed)";
    if agg.is_empty() {
        return note(area, t, CAPTION, "No requests have finished yet");
    }
    let sc = latency_over_time(agg, stages);
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: CAPTION,
            x: 0.0..sc.x_max,
            y: 0.0..sc.y_max,
            x_desc: "request start (s)",
            y_desc: "latency (ms)",
            y_labels: 60.0,
            x_count: None,
            y_count: None,
            right: 0.0,
        },
    )?;
    let r = t.px(2.5);
    for (i, st) in sc.stages.iter().enumerate() {
        let color = stage_color(i);
        chart.draw_series(st.ok.iter().map(|&p| Circle::new(p, r, color.filled())))?;
        chart.draw_series(
            st.failed
                .iter()
                .map(|&p| Cross::new(p, r, color.stroke_width(t.px(1.0)))),
        )?;
    }
    Ok(())
}

/// Requests that ended per second (successful below, failed stacked on top) and, on the right
/// axis, the mean number in flight: the run's shape while it goes on.
fn draw_activity(area: &Area, t: &Theme, agg: &Aggregator, now_ms: f64, live: bool) -> DrawResult {
    const CAPTION: &str = "Requests over time";
    let a = activity_over_time(agg.samples(), now_ms);
    if a.is_empty() {
        let why = if live {
            "Waiting for the first request to finish"
        } else {
            "No requests"
        };
        return note(area, t, CAPTION, why);
    }
    let w = a.bucket_s;
    let x_max = a.in_flight.len() as f64 * w;
    let tallest = a
        .ok_per_s
        .iter()
        .zip(&a.failed_per_s)
        .map(|(o, f)| o + f)
        .fold(0.0, f64::max);
    let flight = count_axis(a.in_flight.iter().copied().fold(0.0, f64::max));
    let f = Frame {
        caption: CAPTION,
        x: 0.0..x_max,
        y: 0.0..nice_max(tallest),
        x_desc: "run time (s)",
        y_desc: "requests/s",
        y_labels: 60.0,
        x_count: None,
        y_count: None,
        right: 52.0,
    };
    let mut chart = build(area, t, &f)?.set_secondary_coord(0.0..x_max, 0.0..flight.max);
    mesh(&mut chart, t, &f)?;
    let whole = |v: &f64| format!("{v:.0}");
    chart
        .configure_secondary_axes()
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .axis_desc_style(t.font(11.0))
        .y_desc("in flight")
        .y_labels(flight.labels)
        .y_label_formatter(&whole)
        .draw()?;
    let bar = |i: usize, lo: f64, hi: f64, style: ShapeStyle| {
        let x = i as f64 * w;
        Rectangle::new([(x + 0.08 * w, lo), (x + 0.92 * w, hi)], style)
    };
    let (ok, failed) = (t.muted.mix(0.55).filled(), t.error.filled());
    chart.draw_series(
        a.ok_per_s
            .iter()
            .enumerate()
            .map(|(i, &v)| bar(i, 0.0, v, ok)),
    )?;
    chart.draw_series(
        a.ok_per_s
            .iter()
            .zip(&a.failed_per_s)
            .enumerate()
            .filter(|(_, (_, &f))| f > 0.0)
            .map(|(i, (&o, &f))| bar(i, o, o + f, failed)),
    )?;
    let flight = || {
        a.in_flight
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i as f64 + 0.5) * w, v))
    };
    chart.draw_secondary_series(LineSeries::new(flight(), t.fg.stroke_width(t.px(2.0))))?;
    // A line needs two buckets; a run that short gets its points marked.
    if a.in_flight.len() < 3 {
        chart.draw_secondary_series(flight().map(|p| Circle::new(p, t.px(3.5), t.fg.filled())))?;
    }
    Ok(())
}

/// One colour per error class on the errors chart, apart from the stage colours: warm ones,
/// as failures are drawn in red elsewhere.
fn class_color(c: ErrorClass) -> RGBColor {
    match c {
        ErrorClass::Http => RGBColor(214, 39, 40),
        ErrorClass::Timeout => RGBColor(255, 160, 0),
        ErrorClass::Network => RGBColor(123, 31, 162),
        ErrorClass::Parse => RGBColor(121, 85, 72),
        ErrorClass::StreamError => RGBColor(233, 30, 99),
        ErrorClass::Aborted => RGBColor(128, 128, 128),
    }
}

/// Failed requests per second by class, stacked in `FAILURE_CLASSES` order, on the time axis
/// of "Requests over time".
fn draw_errors_over_time(area: &Area, t: &Theme, e: &ErrorsOverTime, live: bool) -> DrawResult {
    let caption = match e.not_drawn {
        0 => "Errors over time (by class)".to_string(),
        n => format!("Errors over time (by class; {n} past the sample ceiling not drawn)"),
    };
    if e.classes.is_empty() {
        let why = if live {
            "No failed requests so far"
        } else {
            "No failed requests"
        };
        return note(area, t, &caption, why);
    }
    let w = e.bucket_s;
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: &caption,
            x: 0.0..e.buckets() as f64 * w,
            y: 0.0..nice_max(e.tallest()),
            x_desc: "run time (s)",
            y_desc: "errors/s",
            y_labels: 60.0,
            x_count: None,
            y_count: None,
            right: 0.0,
        },
    )?;
    let mut base = vec![0.0f64; e.buckets()];
    for (class, rates) in &e.classes {
        let style = class_color(*class).filled();
        let bars = rates.iter().zip(base.iter_mut()).enumerate();
        chart.draw_series(bars.filter(|(_, (&r, _))| r > 0.0).map(|(i, (&r, b))| {
            let (x, lo) = (i as f64 * w, *b);
            *b += r;
            Rectangle::new([(x + 0.08 * w, lo), (x + 0.92 * w, *b)], style)
        }))?;
    }
    Ok(())
}

fn draw_tokens_over_time(area: &Area, t: &Theme, agg: &Aggregator) -> DrawResult {
    const CAPTION: &str = "Output tokens/s over time";
    let rate = tokens_over_time(agg.samples());
    if rate.per_s.is_empty() {
        return note(area, t, CAPTION, NO_SUCCESS);
    }
    let w = rate.bucket_s;
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: CAPTION,
            x: 0.0..(rate.per_s.len() as f64 * w).max(1.0),
            y: 0.0..nice_max(rate.per_s.iter().copied().fold(0.0, f64::max)),
            x_desc: "run time (s)",
            y_desc: "tokens/s",
            y_labels: 64.0,
            x_count: None,
            y_count: None,
            right: 0.0,
        },
    )?;
    let color = t.muted;
    chart.draw_series(rate.per_s.iter().enumerate().map(|(i, &v)| {
        let x = i as f64 * w;
        Rectangle::new(
            [(x + 0.05 * w, 0.0), (x + 0.95 * w, v)],
            color.mix(0.7).filled(),
        )
    }))?;
    Ok(())
}

/// One line per series against requested concurrency, one point per stage in its colour, and
/// the overlaid runs' lines.
// Each argument is a different part of the chart; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
fn draw_vs_concurrency(
    area: &Area,
    t: &Theme,
    caption: &str,
    y_desc: &str,
    stats: &[StageStats],
    series: &[Series],
    marks: &SloMarks,
    overlays: &[Overlay],
) -> DrawResult {
    let figures: Vec<StageFigure> = series.iter().map(|s| s.figure).collect();
    let sc = vs_concurrency(stats, &figures);
    if sc.lines.iter().all(Vec::is_empty) {
        return note(area, t, caption, NO_SUCCESS);
    }
    let others: Vec<Scaling> = overlays
        .iter()
        .map(|o| vs_concurrency(&o.stats, &figures))
        .collect();
    let top = stats
        .iter()
        .chain(overlays.iter().flat_map(|o| &o.stats))
        .map(|s| s.requested_concurrency)
        .max()
        .unwrap_or(1);
    let x_axis = count_axis(f64::from(top));
    let mut chart = frame(
        area,
        t,
        Frame {
            caption,
            x: 0.0..x_axis.max,
            // A threshold above every figure is still drawn, with headroom for its label.
            y: 0.0..marks
                .limits
                .iter()
                .map(|(v, _)| nice_max(v * 1.1))
                .chain(others.iter().map(|o| o.y_max))
                .fold(sc.y_max, f64::max),
            x_desc: "requested concurrency",
            y_desc,
            y_labels: 60.0,
            x_count: Some(x_axis),
            y_count: None,
            right: 0.0,
        },
    )?;
    for (s, points) in series.iter().zip(sc.lines) {
        let color = if s.muted { t.muted } else { t.fg };
        let style = color.stroke_width(t.px(2.0));
        if s.dashed {
            let (dash, gap) = (t.px(6.0), t.px(4.0));
            chart.draw_series(DashedLineSeries::new(points.clone(), dash, gap, style))?;
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))?;
        }
        // A point per stage that has the figure, in that stage's colour.
        let stage_of = |x: f64| {
            stats
                .iter()
                .position(|st| f64::from(st.requested_concurrency) == x)
        };
        chart.draw_series(points.into_iter().map(|p| {
            let c = stage_of(p.0).map_or(t.fg, stage_color);
            Circle::new(p, t.px(4.0), c.filled())
        }))?;
    }
    draw_overlays(&mut chart, t, series, &others)?;
    draw_slo_marks(&mut chart, t, marks, x_axis.max)
}

/// One colour per overlaid run (the baseline first), apart from the stage colours.
const OVERLAY_COLORS: [RGBColor; 5] = [
    RGBColor(0, 150, 150),
    RGBColor(188, 160, 20),
    RGBColor(110, 110, 110),
    RGBColor(60, 60, 170),
    RGBColor(120, 170, 60),
];

fn overlay_color(i: usize) -> RGBColor {
    OVERLAY_COLORS[i % OVERLAY_COLORS.len()]
}

/// Other runs' lines (the baseline, runs picked in History) over a by-concurrency chart:
/// dashed in the run's colour, long dashes for a figure the shown run draws solid and short
/// ones for its dashed figures, with hollow points; the key under the chart names the runs.
fn draw_overlays(
    chart: &mut Chart,
    t: &Theme,
    series: &[Series],
    others: &[Scaling],
) -> DrawResult {
    for (k, sc) in others.iter().enumerate() {
        let color = overlay_color(k);
        for (s, points) in series.iter().zip(&sc.lines) {
            let (dash, gap) = if s.dashed {
                (t.px(2.0), t.px(3.0))
            } else {
                (t.px(8.0), t.px(4.0))
            };
            let style = color.stroke_width(t.px(1.5));
            chart.draw_series(DashedLineSeries::new(points.clone(), dash, gap, style))?;
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, t.px(3.5), color.stroke_width(t.px(1.5)))),
            )?;
        }
    }
    Ok(())
}

/// The key of the overlaid runs, under each by-concurrency chart.
#[component]
fn OverlayKey() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        let overlays = state.overlays.get();
        (!overlays.is_empty()).then(|| {
            let items = overlays
                .into_iter()
                .enumerate()
                .map(|(k, o)| {
                    let RGBColor(r, g, b) = overlay_color(k);
                    let what = if o.baseline { " (baseline)" } else { "" };
                    view! {
                        <li><span class="line overlay" style=format!("border-top-color: rgb({r}, {g}, {b})")></span>
                            {format!("{}{what}", o.label)}</li>
                    }
                })
                .collect_view();
            view! { <ul class="key overlay-key">{items}</ul> }
        })
    }
}

/// A compared stage's CDFs: (stage, the shown run's points, the baseline's points).
type CdfLines = (usize, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Latency CDFs of the compared stages: the shown run solid, the baseline dashed, each in its
/// stage's colour. `lines`: (stage, shown run's points, baseline's points).
fn draw_latency_cdf(area: &Area, t: &Theme, lines: &[CdfLines]) -> DrawResult {
    const CAPTION: &str = "Latency CDF: this run (solid) vs baseline (dashed)";
    let x_max = lines
        .iter()
        .flat_map(|(_, a, b)| a.iter().chain(b))
        .map(|p| p.0)
        .fold(0.0, f64::max);
    if x_max <= 0.0 {
        return note(
            area,
            t,
            CAPTION,
            "No matched stage with successful requests",
        );
    }
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: CAPTION,
            x: 0.0..nice_max(x_max),
            y: 0.0..1.0,
            x_desc: "latency (ms)",
            y_desc: "share of requests at or below",
            y_labels: 60.0,
            x_count: None,
            y_count: None,
            right: 0.0,
        },
    )?;
    for (stage, current, baseline) in lines {
        let color = stage_color(*stage);
        let style = color.stroke_width(t.px(2.0));
        chart.draw_series(LineSeries::new(current.clone(), style))?;
        chart.draw_series(DashedLineSeries::new(
            baseline.clone(),
            t.px(6.0),
            t.px(4.0),
            style,
        ))?;
    }
    Ok(())
}

/// The CDF chart, shown while a baseline is set, for every matched stage or the one chosen.
#[component]
fn CdfChart() -> impl IntoView {
    let state = expect_context::<AppState>();
    let canvas = NodeRef::<Canvas>::new();
    // `None`: every matched stage.
    let chosen = RwSignal::new(None::<usize>);
    let matched = Memo::new(move |_| {
        state.comparison.with(|c| {
            c.as_ref().map_or(Vec::new(), |c| {
                c.stages
                    .iter()
                    .filter_map(|s| {
                        Some((s.stage as usize, s.baseline_stage? as usize, s.name.clone()))
                    })
                    .collect::<Vec<_>>()
            })
        })
    });
    let failure = RwSignal::new(None::<String>);
    // Redraw at the new size when the window changes, as the other charts do.
    let resized = RwSignal::new(0u32);
    let _ = window_event_listener(leptos::ev::resize, move |_| resized.update(|n| *n += 1));
    Effect::new(move |_| {
        state.chart_tick.track();
        resized.track();
        let pairs = matched.get();
        let only = chosen.get();
        // After the DOM update that shows the figure: a hidden canvas has no size to draw in.
        request_animation_frame(move || {
            let t = Theme::current();
            let lines: Vec<_> = pairs
                .iter()
                .filter(|(ci, _, _)| only.is_none_or(|o| o == *ci))
                .map(|&(ci, bi, _)| {
                    let current = state.session.with_value(|s| latency_cdf(&s.agg, ci));
                    let baseline = state
                        .baseline_run
                        .with_value(|b| b.as_ref().map_or(Vec::new(), |b| latency_cdf(&b.agg, bi)));
                    (ci, current, baseline)
                })
                .collect();
            let result = draw_on(canvas, &t, |a| draw_latency_cdf(a, &t, &lines));
            failure.set(
                result
                    .err()
                    .map(|e| format!("A chart could not be drawn: {e}")),
            );
        });
    });
    let on_choose = move |ev| {
        let v = event_target_value(&ev);
        chosen.set(v.parse::<usize>().ok());
    };
    view! {
        <figure class="chart" id="figure-cdf" class:hidden=move || matched.with(Vec::is_empty)>
            <label class="cdf-stage">"CDF stage "
                <select id="cdf-stage" on:change=on_choose>
                    <option value="all" selected=true>"All compared stages"</option>
                    {move || matched.get().into_iter().map(|(ci, _, name)| view! {
                        <option value=ci.to_string()>{format!("{}: {name}", ci + 1)}</option>
                    }).collect_view()}
                </select>
            </label>
            <canvas node_ref=canvas id="chart-cdf" aria-label="Latency CDF, this run against the baseline"></canvas>
            <ul class="key">
                <li><span class="line"></span>"this run"</li>
                <li><span class="line dashed"></span>{move || state.baseline.with(|b| b.as_ref().map_or(String::new(), |b| format!("baseline: {}", b.label)))}</li>
            </ul>
            <ExportPng canvas="chart-cdf" />
            {move || failure.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </figure>
    }
}

/// Threshold lines (dashed, in the error colour, labelled at the left) and the knee: a
/// vertical line at the last load that met the SLO and one at the first that failed.
fn draw_slo_marks(chart: &mut Chart, t: &Theme, marks: &SloMarks, x_max: f64) -> DrawResult {
    let (dash, gap) = (t.px(3.0), t.px(3.0));
    for (v, label) in &marks.limits {
        let style = t.error.stroke_width(t.px(1.0));
        chart.draw_series(DashedLineSeries::new(
            [(0.0, *v), (x_max, *v)],
            dash,
            gap,
            style,
        ))?;
        let above = Pos::new(HPos::Left, VPos::Bottom);
        chart.draw_series([Text::new(
            format!("{label} {}", stampede_engine::figure(*v)),
            (x_max * 0.01, *v),
            t.font(10.0).color(&t.error).pos(above),
        )])?;
    }
    let y = chart.plotting_area().get_y_range().end;
    let knee = [
        (marks.meets_up_to, t.fg, "meets SLO"),
        (marks.first_failing, t.error, "fails SLO"),
    ];
    for (x, color, label) in knee {
        let Some(x) = x else { continue };
        let style = color.stroke_width(t.px(1.0));
        chart.draw_series(DashedLineSeries::new([(x, 0.0), (x, y)], dash, gap, style))?;
        let top = Pos::new(HPos::Left, VPos::Top);
        chart.draw_series([Text::new(
            label,
            (x, y),
            t.font(10.0).color(&color).pos(top),
        )])?;
    }
    Ok(())
}

/// Keep `on_screen` true while any part of `el` is in the viewport. Without an
/// IntersectionObserver (very old browsers) the charts always draw.
fn watch_on_screen(el: &web_sys::Element, on_screen: RwSignal<bool>) {
    let callback = Closure::<dyn Fn(js_sys::Array)>::new(move |entries: js_sys::Array| {
        if let Some(last) = entries.iter().last() {
            let entry: web_sys::IntersectionObserverEntry = last.unchecked_into();
            on_screen.set(entry.is_intersecting());
        }
    });
    match web_sys::IntersectionObserver::new(callback.as_ref().unchecked_ref()) {
        Ok(observer) => observer.observe(el),
        Err(_) => on_screen.set(true),
    }
    // The charts section lives as long as the page: so does its observer's callback.
    callback.forget();
}

/// How a key entry is drawn: a stage's swatch, or a line in the chart's own style.
#[derive(Clone)]
enum Mark {
    Stage(usize),
    Line {
        muted: bool,
        dashed: bool,
    },
    Bar(&'static str),
    /// A swatch in a colour of its own (an error class).
    Color(RGBColor),
}

/// A key under (or above) a chart, in HTML so it never covers data.
#[component]
fn Key(items: Vec<(Mark, String)>) -> impl IntoView {
    let entries = items
        .into_iter()
        .map(|(mark, label)| {
            let swatch = match mark {
                Mark::Stage(i) => {
                    let RGBColor(r, g, b) = stage_color(i);
                    view! { <span class="swatch" style=format!("background: rgb({r}, {g}, {b})")></span> }.into_any()
                }
                Mark::Line { muted, dashed } => view! {
                    <span class="line" class:muted=muted class:dashed=dashed></span>
                }
                .into_any(),
                Mark::Bar(class) => view! { <span class=format!("swatch {class}")></span> }.into_any(),
                Mark::Color(RGBColor(r, g, b)) => {
                    view! { <span class="swatch" style=format!("background: rgb({r}, {g}, {b})")></span> }.into_any()
                }
            };
            view! { <li>{swatch}{label}</li> }
        })
        .collect_view();
    view! { <ul class="key">{entries}</ul> }
}

fn line(muted: bool, dashed: bool, label: &str) -> (Mark, String) {
    (Mark::Line { muted, dashed }, label.to_string())
}

#[component]
pub fn Charts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let activity = NodeRef::<Canvas>::new();
    let hist = NodeRef::<Canvas>::new();
    let time = NodeRef::<Canvas>::new();
    let lat_c = NodeRef::<Canvas>::new();
    let rps_c = NodeRef::<Canvas>::new();
    let ttft_h = NodeRef::<Canvas>::new();
    let ttft_c = NodeRef::<Canvas>::new();
    let tokens_t = NodeRef::<Canvas>::new();
    let errors_t = NodeRef::<Canvas>::new();
    // The errors chart's key (the classes drawn) and its counts, for the page and for tests.
    let error_classes = RwSignal::new(Vec::<ErrorClass>::new());
    let errors_drawn = RwSignal::new(String::new());
    let png = PngExport::default();
    provide_context(png);
    let streamed = move || {
        state
            .stats
            .with(|st| st.iter().any(|s| s.ttft_ms.is_some()))
    };
    let failure = RwSignal::new(None::<String>);
    let section = NodeRef::<leptos::html::Section>::new();
    let on_screen = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(el) = section.get() {
            watch_on_screen(&el, on_screen);
        }
    });
    // A canvas keeps its bitmap when its box changes size: redraw at the new size, or a
    // finished run's charts would stay stretched after the window is resized.
    let resized = RwSignal::new(0u32);
    let _ = window_event_listener(leptos::ev::resize, move |_| resized.update(|n| *n += 1));
    // The stage key: every planned stage, rebuilt only when the stages change.
    let stage_names = Memo::new(move |_| {
        state.chart_tick.track();
        state.session.with_value(|s| {
            s.agg
                .stages()
                .iter()
                .enumerate()
                .map(|(i, st)| format!("{}: {}", i + 1, st.name))
                .collect::<Vec<_>>()
        })
    });

    // Only a change of threshold redraws, not every keystroke in the form.
    let slo = Memo::new(move |_| state.config.with(|c| c.slo.clone()));

    Effect::new(move |_| {
        state.chart_tick.track();
        resized.track();
        png.asked.track();
        let slo = slo.get();
        // Off-screen charts wait: drawing them takes CPU the browser's own network work needs
        // during a run. Scrolled into view, they draw the latest snapshot at once.
        if !on_screen.get() {
            return;
        }
        let t = Theme::current();
        let stats = state.stats.get_untracked();
        let overlays = state.overlays.get();
        let marks = |shown: &[SloMetric]| SloMarks::new(&slo, &stats, shown);
        let live = state.phase.get_untracked() == Phase::Running;
        let now_ms = if live {
            state.progress.with_untracked(|p| p.elapsed_ms)
        } else {
            0.0
        };
        let result = state.session.with_value(|s| -> DrawResult {
            let agg = &s.agg;
            let stages = agg.stages().len();
            let ok = || agg.samples().filter(|s| s.ok() && !s.warmup);
            draw_on(activity, &t, |a| draw_activity(a, &t, agg, now_ms, live))?;
            let errs = errors_over_time(agg.samples(), &stats, now_ms);
            let classes: Vec<ErrorClass> = errs.classes.iter().map(|(c, _)| *c).collect();
            if error_classes.with_untracked(|c| *c != classes) {
                error_classes.set(classes);
            }
            let drawn = errs
                .classes
                .iter()
                .map(|(c, _)| format!("{}:{}", c.label(), errs.count(*c)))
                .collect::<Vec<_>>()
                .join(" ");
            if errors_drawn.with_untracked(|d| *d != drawn) {
                errors_drawn.set(drawn);
            }
            draw_on(errors_t, &t, |a| draw_errors_over_time(a, &t, &errs, live))?;
            draw_on(time, &t, |a| draw_over_time(a, &t, agg, stages))?;
            draw_on(hist, &t, |a| {
                let latency: Vec<(u32, f64)> = ok().map(|s| (s.stage, s.latency_ms())).collect();
                draw_histogram(
                    a,
                    &t,
                    "Latency histogram (successful requests)",
                    "latency (ms)",
                    &latency,
                    stages,
                )
            })?;
            draw_on(ttft_h, &t, |a| {
                let ttft: Vec<(u32, f64)> =
                    ok().filter_map(|s| Some((s.stage, s.ttft_ms()?))).collect();
                draw_histogram(
                    a,
                    &t,
                    "TTFT histogram (streamed, successful)",
                    "time to first token (ms)",
                    &ttft,
                    stages,
                )
            })?;
            draw_on(tokens_t, &t, |a| draw_tokens_over_time(a, &t, agg))?;
            draw_on(ttft_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "TTFT and TPOT by concurrency",
                    "ms",
                    &stats,
                    &[
                        Series {
                            muted: false,
                            dashed: false,
                            figure: |s| s.ttft_ms.as_ref().map(|d| d.p50),
                        },
                        Series {
                            muted: false,
                            dashed: true,
                            figure: |s| s.ttft_ms.as_ref().map(|d| d.p95),
                        },
                        Series {
                            muted: true,
                            dashed: false,
                            figure: |s| s.tpot_ms.as_ref().map(|d| d.p50),
                        },
                        Series {
                            muted: true,
                            dashed: true,
                            figure: |s| s.tpot_ms.as_ref().map(|d| d.p95),
                        },
                    ],
                    &marks(&[
                        SloMetric::TtftP50,
                        SloMetric::TtftP95,
                        SloMetric::TpotP50,
                        SloMetric::TpotP95,
                    ]),
                    &overlays,
                )
            })?;
            draw_on(lat_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "Latency by concurrency",
                    "latency (ms)",
                    &stats,
                    &[
                        Series {
                            muted: false,
                            dashed: false,
                            figure: |s| s.latency_ms.as_ref().map(|d| d.p50),
                        },
                        Series {
                            muted: false,
                            dashed: true,
                            figure: |s| s.latency_ms.as_ref().map(|d| d.p95),
                        },
                    ],
                    &marks(&[SloMetric::LatencyP50, SloMetric::LatencyP95]),
                    &overlays,
                )
            })?;
            draw_on(rps_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "Throughput by concurrency",
                    "requests/s",
                    &stats,
                    &[
                        Series {
                            muted: false,
                            dashed: false,
                            figure: |s| s.successful_per_s.filter(|_| s.successful > 0),
                        },
                        Series {
                            muted: true,
                            dashed: true,
                            figure: |s| s.requests_per_s.filter(|_| s.successful > 0),
                        },
                    ],
                    &marks(&[]),
                    &overlays,
                )
            })
        });
        failure.set(
            result
                .err()
                .map(|e| format!("A chart could not be drawn: {e}")),
        );
    });

    view! {
        <section node_ref=section class="charts" aria-label="Charts" class:hidden=move || state.shown.get() == Shown::Nothing>
            <div class="stage-key" id="chart-stage-key">
                <span class="key-title">"Stages"</span>
                {move || {
                    let items = stage_names.get().into_iter().enumerate().map(|(i, n)| (Mark::Stage(i), n)).collect();
                    view! { <Key items=items /> }
                }}
            </div>
            <div class="chart-grid">
                <figure class="chart">
                    <canvas node_ref=activity id="chart-activity" aria-label="Requests per second and requests in flight over time"></canvas>
                    <Key items=vec![
                        (Mark::Bar("ok"), "successful/s".into()),
                        (Mark::Bar("failed"), "failed/s".into()),
                        line(false, false, "in flight (right axis; finished requests)"),
                    ] />
                    <ExportPng canvas="chart-activity" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=errors_t id="chart-errors" aria-label="Errors over time by class"
                        data-errors=move || errors_drawn.get()></canvas>
                    {move || {
                        let items = error_classes.get().into_iter().map(|c| (Mark::Color(class_color(c)), c.label().to_string())).collect();
                        view! { <Key items=items /> }
                    }}
                    <ExportPng canvas="chart-errors" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=time id="chart-over-time" aria-label="Latency over time"></canvas>
                    <ExportPng canvas="chart-over-time" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=hist id="chart-histogram" aria-label="Latency histogram"></canvas>
                    <ExportPng canvas="chart-histogram" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=lat_c id="chart-latency" aria-label="Latency p50 and p95 by concurrency"></canvas>
                    <Key items=vec![line(false, false, "p50"), line(false, true, "p95")] />
                    <OverlayKey />
                    <ExportPng canvas="chart-latency" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=rps_c id="chart-throughput" aria-label="Requests per second by concurrency"></canvas>
                    <Key items=vec![line(false, false, "successful/s"), line(true, true, "all completed/s")] />
                    <OverlayKey />
                    <ExportPng canvas="chart-throughput" />
                </figure>
                <figure class="chart">
                    <canvas node_ref=tokens_t id="chart-tokens" aria-label="Output tokens per second over time"></canvas>
                    <ExportPng canvas="chart-tokens" />
                </figure>
                <CdfChart />
                <figure class="chart" class:hidden=move || !streamed()>
                    <canvas node_ref=ttft_h id="chart-ttft" aria-label="TTFT histogram"></canvas>
                    <ExportPng canvas="chart-ttft" />
                </figure>
                <figure class="chart" class:hidden=move || !streamed()>
                    <canvas node_ref=ttft_c id="chart-ttft-tpot" aria-label="TTFT and TPOT by concurrency"></canvas>
                    <Key items=vec![
                        line(false, false, "TTFT p50"), line(false, true, "TTFT p95"),
                        line(true, false, "TPOT p50"), line(true, true, "TPOT p95"),
                    ] />
                    <OverlayKey />
                    <ExportPng canvas="chart-ttft-tpot" />
                </figure>
            </div>
            {move || failure.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </section>
    }
}
