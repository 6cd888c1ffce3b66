//! Live charts drawn with plotters on canvas, redrawn with each published snapshot (~4/s).
//!
//! Canvases are sized in device pixels and every length is scaled by the pixel ratio, so lines
//! and text stay crisp on high-DPI screens.

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use stampede_engine::Sample;
use stampede_engine::StageStats;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::browser::env;
use crate::state::{AppState, Shown};

/// The scatter draws at most this many points (evenly strided) to stay responsive.
const MAX_POINTS: usize = 5000;
const HISTOGRAM_BINS: usize = 30;

const STAGE_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn stage_color(i: u32) -> RGBColor {
    STAGE_COLORS[i as usize % STAGE_COLORS.len()]
}

struct Theme {
    fg: RGBColor,
    bg: RGBColor,
    grid: RGBColor,
    scale: f64,
}

impl Theme {
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
type Series<'a> = (&'a str, RGBColor, fn(&StageStats) -> Option<f64>);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

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

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.1
    }
}

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;

fn draw_histogram(
    area: Area,
    t: &Theme,
    caption: &str,
    x_desc: &str,
    lat: &[f64],
    color: RGBColor,
) -> DrawResult {
    area.fill(&t.bg)?;
    let (lo, hi) = lat
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lat.is_empty() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let mut bins = [0u32; HISTOGRAM_BINS];
    for v in lat {
        let i = (((v - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
        bins[i] += 1;
    }
    let top = f64::from(bins.iter().copied().max().unwrap_or(0)).max(1.0) * 1.1;
    let mut chart = ChartBuilder::on(&area)
        .caption(caption, t.font(13.0))
        .margin(t.px(8.0))
        .x_label_area_size(t.px(32.0))
        .y_label_area_size(t.px(44.0))
        .build_cartesian_2d(lo..hi, 0f64..top)?;
    chart
        .configure_mesh()
        .light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .x_desc(x_desc)
        .y_desc("requests")
        .draw()?;
    chart.draw_series(bins.iter().enumerate().map(|(i, &c)| {
        let x0 = lo + i as f64 * width;
        Rectangle::new(
            [(x0, 0.0), (x0 + width, f64::from(c))],
            color.mix(0.8).filled(),
        )
    }))?;
    area.present()?;
    Ok(())
}

fn draw_over_time(area: Area, t: &Theme, samples: &[Sample], stages: usize) -> DrawResult {
    area.fill(&t.bg)?;
    let step = samples.len().div_ceil(MAX_POINTS).max(1);
    let points: Vec<&Sample> = samples.iter().step_by(step).collect();
    let x_max = nice_max(
        points
            .iter()
            .map(|s| s.start_ms / 1000.0)
            .fold(0.0, f64::max),
    );
    let y_max = nice_max(points.iter().map(|s| s.latency_ms()).fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(&area)
        .caption(
            "Latency over time (one point per request; ✕ failed)",
            t.font(13.0),
        )
        .margin(t.px(8.0))
        .x_label_area_size(t.px(32.0))
        .y_label_area_size(t.px(44.0))
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .x_desc("request start (s)")
        .y_desc("latency (ms)")
        .draw()?;
    let r = t.px(2.5);
    for stage in 0..stages as u32 {
        let color = stage_color(stage);
        let mine = points.iter().filter(|s| s.stage == stage);
        chart
            .draw_series(
                mine.clone()
                    .filter(|s| s.ok())
                    .map(|s| Circle::new((s.start_ms / 1000.0, s.latency_ms()), r, color.filled())),
            )?
            .label(format!("stage {}", stage + 1))
            .legend(move |(x, y)| Circle::new((x, y), r, color.filled()));
        chart.draw_series(mine.filter(|s| !s.ok()).map(|s| {
            Cross::new(
                (s.start_ms / 1000.0, s.latency_ms()),
                r,
                color.stroke_width(t.px(1.0)),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .label_font(t.font(11.0))
        .background_style(t.bg.mix(0.8))
        .border_style(t.grid)
        .draw()?;
    area.present()?;
    Ok(())
}

/// Output tokens per second over the run, in one-second buckets. A streamed request's tokens
/// are spread evenly over its content events; others count at their end.
fn draw_tokens_over_time(area: Area, t: &Theme, samples: &[Sample]) -> DrawResult {
    area.fill(&t.bg)?;
    let mut buckets: Vec<f64> = Vec::new();
    let mut add = |at_ms: f64, n: f64| {
        let i = (at_ms.max(0.0) / 1000.0) as usize;
        if buckets.len() <= i {
            buckets.resize(i + 1, 0.0);
        }
        buckets[i] += n;
    };
    for s in samples.iter().filter(|s| s.ok()) {
        let tokens = s.output_tokens.unwrap_or(0) as f64;
        if s.content_ms.is_empty() {
            add(s.end_ms, tokens);
        } else {
            let each = tokens / s.content_ms.len() as f64;
            for &at in &s.content_ms {
                add(at, each);
            }
        }
    }
    let x_max = (buckets.len() as f64).max(1.0);
    let y_max = nice_max(buckets.iter().copied().fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(&area)
        .caption("Output tokens/s over time", t.font(13.0))
        .margin(t.px(8.0))
        .x_label_area_size(t.px(32.0))
        .y_label_area_size(t.px(52.0))
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .x_desc("run time (s)")
        .y_desc("tokens/s")
        .draw()?;
    let color = STAGE_COLORS[4];
    chart.draw_series(buckets.iter().enumerate().map(|(i, &v)| {
        let x = i as f64;
        Rectangle::new([(x + 0.05, 0.0), (x + 0.95, v)], color.mix(0.8).filled())
    }))?;
    area.present()?;
    Ok(())
}

/// One line per series against requested concurrency, one point per stage.
fn draw_vs_concurrency(
    area: Area,
    t: &Theme,
    title: &str,
    y_desc: &str,
    stats: &[StageStats],
    series: &[Series],
) -> DrawResult {
    area.fill(&t.bg)?;
    let x_max = nice_max(
        stats
            .iter()
            .map(|s| f64::from(s.requested_concurrency))
            .fold(0.0, f64::max),
    );
    let y_max = nice_max(
        stats
            .iter()
            .flat_map(|s| series.iter().filter_map(|(_, _, f)| f(s)))
            .fold(0.0, f64::max),
    );
    let mut chart = ChartBuilder::on(&area)
        .caption(title, t.font(13.0))
        .margin(t.px(8.0))
        .x_label_area_size(t.px(32.0))
        .y_label_area_size(t.px(44.0))
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .light_line_style(t.grid)
        .axis_style(t.fg)
        .label_style(t.font(11.0))
        .x_desc("requested concurrency")
        .y_desc(y_desc)
        .draw()?;
    for &(name, color, f) in series {
        let pts: Vec<(f64, f64)> = stats
            .iter()
            .filter_map(|s| Some((f64::from(s.requested_concurrency), f(s)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(t.px(2.0))))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(
            pts.into_iter()
                .map(|p| Circle::new(p, t.px(3.5), color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .label_font(t.font(11.0))
        .background_style(t.bg.mix(0.8))
        .border_style(t.grid)
        .draw()?;
    area.present()?;
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
        let dark = env::prefers_dark();
        let t = Theme {
            fg: if dark {
                RGBColor(220, 222, 228)
            } else {
                RGBColor(30, 32, 38)
            },
            bg: if dark {
                RGBColor(24, 26, 31)
            } else {
                RGBColor(255, 255, 255)
            },
            grid: if dark {
                RGBColor(60, 63, 72)
            } else {
                RGBColor(225, 228, 234)
            },
            scale: env::device_pixel_ratio(),
        };
        let stats = state.stats.get_untracked();
        let result = state.session.with_value(|s| -> DrawResult {
            let samples = s.agg.samples();
            if let Some(b) = hist.get().and_then(|c| backend(&c, t.scale)) {
                let lat: Vec<f64> = samples
                    .iter()
                    .filter(|s| s.ok())
                    .map(Sample::latency_ms)
                    .collect();
                draw_histogram(
                    b.into_drawing_area(),
                    &t,
                    "Latency histogram (successful requests)",
                    "latency (ms)",
                    &lat,
                    STAGE_COLORS[0],
                )?;
            }
            if let Some(b) = ttft_h.get().and_then(|c| backend(&c, t.scale)) {
                let ttft: Vec<f64> = samples
                    .iter()
                    .filter(|s| s.ok())
                    .filter_map(Sample::ttft_ms)
                    .collect();
                draw_histogram(
                    b.into_drawing_area(),
                    &t,
                    "TTFT histogram (streamed, successful)",
                    "time to first token (ms)",
                    &ttft,
                    STAGE_COLORS[1],
                )?;
            }
            if let Some(b) = tokens_t.get().and_then(|c| backend(&c, t.scale)) {
                draw_tokens_over_time(b.into_drawing_area(), &t, samples)?;
            }
            if let Some(b) = ttft_c.get().and_then(|c| backend(&c, t.scale)) {
                draw_vs_concurrency(
                    b.into_drawing_area(),
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
                )?;
            }
            if let Some(b) = time.get().and_then(|c| backend(&c, t.scale)) {
                draw_over_time(b.into_drawing_area(), &t, samples, s.agg.stages().len())?;
            }
            if let Some(b) = lat_c.get().and_then(|c| backend(&c, t.scale)) {
                draw_vs_concurrency(
                    b.into_drawing_area(),
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
                )?;
            }
            if let Some(b) = rps_c.get().and_then(|c| backend(&c, t.scale)) {
                draw_vs_concurrency(
                    b.into_drawing_area(),
                    &t,
                    "Throughput by stage",
                    "requests/s",
                    &stats,
                    &[("requests/s", STAGE_COLORS[2], |s| s.requests_per_s)],
                )?;
            }
            Ok(())
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
