//! Live charts drawn with plotters on canvas. The figures come from the engine's `views`; this
//! file only draws them, on each published snapshot while the charts are on screen.
//!
//! Canvases are sized in device pixels and every length is scaled by the pixel ratio, so lines
//! and text stay crisp on high-DPI screens.

use std::ops::Range;

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use stampede_engine::{
    histogram, latency_over_time, nice_max, tokens_over_time, vs_concurrency, Aggregator,
    StageFigure, StageStats,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::browser::env;
use crate::state::{AppState, Shown};

const STAGE_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn stage_color(i: usize) -> RGBColor {
    STAGE_COLORS[i % STAGE_COLORS.len()]
}

struct Theme {
    fg: RGBColor,
    bg: RGBColor,
    grid: RGBColor,
    scale: f64,
}

impl Theme {
    /// The page's colour scheme and pixel ratio now.
    fn current() -> Theme {
        let dark = env::prefers_dark();
        let pick = |light: RGBColor, dark_: RGBColor| if dark { dark_ } else { light };
        Theme {
            fg: pick(RGBColor(30, 32, 38), RGBColor(220, 222, 228)),
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

/// A named line on a by-stage chart: its label, colour and the figure it plots.
type Series<'a> = (&'a str, RGBColor, StageFigure);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;
type Chart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Size the canvas to its CSS box in device pixels and hand back a backend for it.
fn backend(canvas: &web_sys::HtmlCanvasElement, scale: f64) -> Option<CanvasBackend> {
    let w = (f64::from(canvas.client_width()) * scale).round() as u32;
    let h = (f64::from(canvas.client_height()) * scale).round() as u32;
    if w == 0 || h == 0 {
        return None;
    }
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    CanvasBackend::with_canvas_object(canvas.clone())
}

/// Draw on `canvas` when it is in the page and has a size (a hidden canvas has none).
fn draw_on(
    canvas: NodeRef<Canvas>,
    t: &Theme,
    paint: impl FnOnce(&Area) -> DrawResult,
) -> DrawResult {
    let Some(b) = canvas.get().and_then(|c| backend(&c, t.scale)) else {
        return Ok(());
    };
    let area = b.into_drawing_area();
    paint(&area)?;
    area.present()?;
    Ok(())
}

/// What differs between the charts' frames.
struct Frame<'a> {
    caption: &'a str,
    x: Range<f64>,
    y: Range<f64>,
    x_desc: &'a str,
    y_desc: &'a str,
    /// Room for the y labels, in CSS pixels: wider for large figures such as tokens/s.
    y_labels: f64,
}

/// The frame every chart shares: background, caption, margins, and axes in the theme.
fn frame<'a>(area: &'a Area, t: &Theme, f: Frame) -> Result<Chart<'a>, Box<dyn std::error::Error>> {
    area.fill(&t.bg)?;
    let mut chart = ChartBuilder::on(area)
        .caption(f.caption, t.font(13.0))
        .margin(t.px(8.0))
        .x_label_area_size(t.px(32.0))
        .y_label_area_size(t.px(f.y_labels))
        .build_cartesian_2d(f.x, f.y)?;
    chart
        .configure_mesh()
        .light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .x_desc(f.x_desc)
        .y_desc(f.y_desc)
        .draw()?;
    Ok(chart)
}

fn legend(chart: &mut Chart, t: &Theme) -> DrawResult {
    chart
        .configure_series_labels()
        .label_font(t.font(11.0))
        .background_style(t.bg.mix(0.8))
        .border_style(t.grid)
        .draw()?;
    Ok(())
}

fn draw_histogram(
    area: &Area,
    t: &Theme,
    caption: &str,
    x_desc: &str,
    values: &[f64],
    color: RGBColor,
) -> DrawResult {
    let h = histogram(values);
    let width = h.width();
    let mut chart = frame(
        area,
        t,
        Frame {
            caption,
            x: h.lo..h.hi,
            y: 0.0..nice_max(f64::from(h.tallest()).max(1.0)),
            x_desc,
            y_desc: "requests",
            y_labels: 44.0,
        },
    )?;
    chart.draw_series(h.counts.iter().enumerate().map(|(i, &c)| {
        let x0 = h.lo + i as f64 * width;
        Rectangle::new(
            [(x0, 0.0), (x0 + width, f64::from(c))],
            color.mix(0.8).filled(),
        )
    }))?;
    Ok(())
}

fn draw_over_time(area: &Area, t: &Theme, agg: &Aggregator, stages: usize) -> DrawResult {
    let sc = latency_over_time(agg, stages);
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: "Latency over time (one point per request; ✕ failed)",
            x: 0.0..sc.x_max,
            y: 0.0..sc.y_max,
            x_desc: "request start (s)",
            y_desc: "latency (ms)",
            y_labels: 44.0,
        },
    )?;
    let r = t.px(2.5);
    for (i, st) in sc.stages.iter().enumerate() {
        let color = stage_color(i);
        chart
            .draw_series(st.ok.iter().map(|&p| Circle::new(p, r, color.filled())))?
            .label(format!("stage {}", i + 1))
            .legend(move |(x, y)| Circle::new((x, y), r, color.filled()));
        chart.draw_series(
            st.failed
                .iter()
                .map(|&p| Cross::new(p, r, color.stroke_width(t.px(1.0)))),
        )?;
    }
    legend(&mut chart, t)
}

fn draw_tokens_over_time(area: &Area, t: &Theme, agg: &Aggregator) -> DrawResult {
    let rate = tokens_over_time(agg.samples());
    let w = rate.bucket_s;
    let mut chart = frame(
        area,
        t,
        Frame {
            caption: "Output tokens/s over time",
            x: 0.0..(rate.per_s.len() as f64 * w).max(1.0),
            y: 0.0..nice_max(rate.per_s.iter().copied().fold(0.0, f64::max)),
            x_desc: "run time (s)",
            y_desc: "tokens/s",
            y_labels: 52.0,
        },
    )?;
    let color = STAGE_COLORS[4];
    chart.draw_series(rate.per_s.iter().enumerate().map(|(i, &v)| {
        let x = i as f64 * w;
        Rectangle::new(
            [(x + 0.05 * w, 0.0), (x + 0.95 * w, v)],
            color.mix(0.8).filled(),
        )
    }))?;
    Ok(())
}

/// One line per series against requested concurrency, one point per stage.
fn draw_vs_concurrency(
    area: &Area,
    t: &Theme,
    caption: &str,
    y_desc: &str,
    stats: &[StageStats],
    series: &[Series],
) -> DrawResult {
    let figures: Vec<StageFigure> = series.iter().map(|s| s.2).collect();
    let sc = vs_concurrency(stats, &figures);
    let mut chart = frame(
        area,
        t,
        Frame {
            caption,
            x: 0.0..sc.x_max,
            y: 0.0..sc.y_max,
            x_desc: "requested concurrency",
            y_desc,
            y_labels: 44.0,
        },
    )?;
    for (&(name, color, _), points) in series.iter().zip(sc.lines) {
        chart
            .draw_series(LineSeries::new(
                points.clone(),
                color.stroke_width(t.px(2.0)),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, t.px(3.5), color.filled())),
        )?;
    }
    legend(&mut chart, t)
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

#[component]
pub fn Charts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let hist = NodeRef::<Canvas>::new();
    let time = NodeRef::<Canvas>::new();
    let lat_c = NodeRef::<Canvas>::new();
    let rps_c = NodeRef::<Canvas>::new();
    let ttft_h = NodeRef::<Canvas>::new();
    let ttft_c = NodeRef::<Canvas>::new();
    let tokens_t = NodeRef::<Canvas>::new();
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

    Effect::new(move |_| {
        state.chart_tick.track();
        // Off-screen charts wait: drawing them takes CPU the browser's own network work needs
        // during a run. Scrolled into view, they draw the latest snapshot at once.
        if !on_screen.get() {
            return;
        }
        let t = Theme::current();
        let stats = state.stats.get_untracked();
        let result = state.session.with_value(|s| -> DrawResult {
            let agg = &s.agg;
            let ok = || agg.samples().filter(|s| s.ok());
            draw_on(hist, &t, |a| {
                let latency: Vec<f64> = ok().map(|s| s.latency_ms()).collect();
                draw_histogram(
                    a,
                    &t,
                    "Latency histogram (successful requests)",
                    "latency (ms)",
                    &latency,
                    STAGE_COLORS[0],
                )
            })?;
            draw_on(ttft_h, &t, |a| {
                let ttft: Vec<f64> = ok().filter_map(|s| s.ttft_ms()).collect();
                draw_histogram(
                    a,
                    &t,
                    "TTFT histogram (streamed, successful)",
                    "time to first token (ms)",
                    &ttft,
                    STAGE_COLORS[1],
                )
            })?;
            draw_on(tokens_t, &t, |a| draw_tokens_over_time(a, &t, agg))?;
            draw_on(ttft_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "TTFT and TPOT p50 / p95 by stage",
                    "ms",
                    &stats,
                    &[
                        ("TTFT p50", STAGE_COLORS[0], |s| {
                            s.ttft_ms.as_ref().map(|d| d.p50)
                        }),
                        ("TTFT p95", STAGE_COLORS[3], |s| {
                            s.ttft_ms.as_ref().map(|d| d.p95)
                        }),
                        ("TPOT p50", STAGE_COLORS[2], |s| {
                            s.tpot_ms.as_ref().map(|d| d.p50)
                        }),
                        ("TPOT p95", STAGE_COLORS[4], |s| {
                            s.tpot_ms.as_ref().map(|d| d.p95)
                        }),
                    ],
                )
            })?;
            draw_on(time, &t, |a| {
                draw_over_time(a, &t, agg, s.agg.stages().len())
            })?;
            draw_on(lat_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "Latency p50 / p95 by stage",
                    "latency (ms)",
                    &stats,
                    &[
                        ("p50", STAGE_COLORS[0], |s| {
                            s.latency_ms.as_ref().map(|d| d.p50)
                        }),
                        ("p95", STAGE_COLORS[3], |s| {
                            s.latency_ms.as_ref().map(|d| d.p95)
                        }),
                    ],
                )
            })?;
            draw_on(rps_c, &t, |a| {
                draw_vs_concurrency(
                    a,
                    &t,
                    "Throughput by stage",
                    "requests/s",
                    &stats,
                    &[("requests/s", STAGE_COLORS[2], |s| s.requests_per_s)],
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
            <canvas node_ref=hist id="chart-histogram" aria-label="Latency histogram"></canvas>
            <canvas node_ref=time id="chart-over-time" aria-label="Latency over time"></canvas>
            <canvas node_ref=lat_c id="chart-latency" aria-label="Latency p50 and p95 by concurrency"></canvas>
            <canvas node_ref=rps_c id="chart-throughput" aria-label="Requests per second by concurrency"></canvas>
            <canvas node_ref=tokens_t id="chart-tokens" aria-label="Output tokens per second over time"></canvas>
            <canvas node_ref=ttft_h id="chart-ttft" class:hidden=move || !streamed() aria-label="TTFT histogram"></canvas>
            <canvas node_ref=ttft_c id="chart-ttft-tpot" class:hidden=move || !streamed() aria-label="TTFT and TPOT by concurrency"></canvas>
            {move || failure.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </section>
    }
}
