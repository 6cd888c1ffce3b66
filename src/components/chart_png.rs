//! "Export PNG": one chart as an image at device pixels, with its title, axes and key drawn in.
//!
//! On the page a chart's key is HTML beside its canvas (never drawn over the data). An image
//! has nothing around it, so the export draws the chart again, on a canvas of the on-screen
//! one's pixel size, with a strip at the bottom for the key. The key is read from the keys the
//! page shows beside that chart (and the stage key, for a chart coloured by stage), so the
//! image's key is always the one on screen.

use std::cell::RefCell;

use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use wasm_bindgen::JsCast;

use crate::browser::canvas::Canvas2d;
use crate::browser::{env, files, time_origin};
use crate::state::AppState;

pub type Area = DrawingArea<Canvas2d, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Canvases whose data is coloured by stage: their image carries the stage key too.
const BY_STAGE: [&str; 7] = [
    "chart-cdf",
    "chart-over-time",
    "chart-histogram",
    "chart-latency",
    "chart-throughput",
    "chart-ttft",
    "chart-ttft-tpot",
];

/// An export asked for: which canvas, and the file's name.
struct Job {
    canvas: String,
    file: String,
}

thread_local! {
    /// The export the next draw of that canvas makes (the page has one thread).
    static PENDING: RefCell<Option<Job>> = const { RefCell::new(None) };
}

/// What the chart section shares with its buttons: a click bumps `asked`, the charts redraw,
/// and the asked-for canvas is drawn once more into the image (a failure shows where a chart
/// that cannot be drawn says so).
#[derive(Clone, Copy)]
pub struct PngExport {
    pub asked: RwSignal<u32>,
}

impl Default for PngExport {
    fn default() -> PngExport {
        PngExport {
            asked: RwSignal::new(0),
        }
    }
}

/// `Latency p50 and p95 by concurrency` → `latency-p50-and-p95-by-concurrency`.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// When the shown run ran: an imported report's time, else the live run's start (the
/// page clock's origin plus the run's start on it), as ISO 8601 safe in a file name.
fn run_time(state: &AppState) -> String {
    let iso = state.session.with_value(|s| match &s.imported {
        Some(r) => r.created_at.clone(),
        None if s.run_start > 0.0 => {
            let at = js_sys::Date::new(&(time_origin() + s.run_start).into());
            String::from(at.to_iso_string())
        }
        None => env::iso_now(),
    });
    iso.replace(':', "-")
}

/// The "Export PNG" button of the chart drawn on canvas `canvas` (its element id).
#[component]
pub fn ExportPng(canvas: &'static str) -> impl IntoView {
    let state = expect_context::<AppState>();
    let png = expect_context::<PngExport>();
    let click = move |_| {
        let title = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(canvas))
            .and_then(|c| c.get_attribute("aria-label"))
            .unwrap_or_else(|| canvas.to_string());
        let file = format!("{}-{}.png", slug(&title), run_time(&state));
        PENDING.with(|p| {
            *p.borrow_mut() = Some(Job {
                canvas: canvas.to_string(),
                file,
            })
        });
        png.asked.update(|n| *n += 1);
    };
    view! {
        <button type="button" class="secondary png-export" data-canvas=canvas
            title="Download this chart as a PNG image (device pixels, with its title, axes and key)"
            on:click=click>"Export PNG"</button>
    }
}

/// How a key entry is drawn in the image.
enum Swatch {
    Box(RGBAColor),
    Line { color: RGBAColor, dashed: bool },
}

/// `rgb(31, 119, 180)` or `rgba(…, 0.5)` as the browser computes colours.
fn css_color(text: &str, opacity: f64) -> Option<RGBAColor> {
    let inner = text.split_once('(')?.1.trim_end_matches(')');
    let parts: Vec<f64> = inner
        .split([',', ' ', '/'])
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    let channel = |i: usize| parts.get(i).map(|v| v.clamp(0.0, 255.0) as u8);
    let alpha = parts.get(3).copied().unwrap_or(1.0);
    Some(RGBAColor(
        channel(0)?,
        channel(1)?,
        channel(2)?,
        (alpha * opacity).clamp(0.0, 1.0),
    ))
}

/// The key entries shown beside `canvas`: the stage key first when the chart is coloured by
/// stage, then the chart's own key.
fn key_entries(canvas: &web_sys::HtmlCanvasElement) -> Vec<(Swatch, String)> {
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let mut items: Vec<web_sys::Element> = Vec::new();
    let mut collect = |root: Option<web_sys::Element>| {
        let Some(keys) = root.map(|r| r.get_elements_by_class_name("key")) else {
            return;
        };
        for k in (0..keys.length()).filter_map(|i| keys.item(i)) {
            let lis = k.get_elements_by_tag_name("li");
            items.extend((0..lis.length()).filter_map(|i| lis.item(i)));
        }
    };
    if BY_STAGE.contains(&canvas.id().as_str()) {
        collect(
            window
                .document()
                .and_then(|d| d.get_element_by_id("chart-stage-key")),
        );
    }
    collect(canvas.parent_element());
    let style = |el: &web_sys::Element, name: &str| {
        window
            .get_computed_style(el)
            .ok()
            .flatten()
            .and_then(|s| s.get_property_value(name).ok())
            .unwrap_or_default()
    };
    items
        .iter()
        .filter_map(|li| {
            let mark = li.first_element_child()?;
            let label = li.text_content().unwrap_or_default().trim().to_string();
            let opacity = style(&mark, "opacity").parse().unwrap_or(1.0);
            let swatch = if mark.class_list().contains("line") {
                Swatch::Line {
                    color: css_color(&style(&mark, "border-top-color"), opacity)?,
                    dashed: style(&mark, "border-top-style") == "dashed",
                }
            } else {
                Swatch::Box(css_color(&style(&mark, "background-color"), opacity)?)
            };
            Some((swatch, label))
        })
        .collect()
}

/// The key laid out in rows across `width` pixels: each entry's (x, row), and the rows used.
fn layout(
    area: &Area,
    entries: &[(Swatch, String)],
    font: &TextStyle,
    width: u32,
    scale: f64,
) -> (Vec<(i32, i32)>, i32) {
    let (pad, mark, gap, space) = (
        (10.0 * scale) as i32,
        (22.0 * scale) as i32,
        (6.0 * scale) as i32,
        (16.0 * scale) as i32,
    );
    let right = width as i32 - pad;
    let (mut x, mut row) = (pad, 0);
    let mut at = Vec::new();
    for (_, label) in entries {
        let text_w = area
            .estimate_text_size(label, font)
            .map_or(label.len() as i32 * 7, |(w, _)| w as i32);
        let w = mark + gap + text_w;
        if x > pad && x + w > right {
            x = pad;
            row += 1;
        }
        at.push((x, row));
        x += w + space;
    }
    (at, if entries.is_empty() { 0 } else { row + 1 })
}

fn draw_key(
    area: &Area,
    entries: &[(Swatch, String)],
    at: &[(i32, i32)],
    font: &TextStyle,
    row_h: i32,
    scale: f64,
) -> DrawResult {
    let (mark, gap) = ((22.0 * scale) as i32, (6.0 * scale) as i32);
    let side = (10.0 * scale) as i32;
    let stroke = (2.0 * scale).round().max(1.0) as u32;
    for ((swatch, label), &(x, row)) in entries.iter().zip(at) {
        let mid = row * row_h + row_h / 2;
        match swatch {
            Swatch::Box(c) => {
                let x0 = x + (mark - side) / 2;
                area.draw(&Rectangle::new(
                    [(x0, mid - side / 2), (x0 + side, mid + side / 2)],
                    c.filled(),
                ))?;
            }
            Swatch::Line { color, dashed } => {
                let style = color.stroke_width(stroke);
                if *dashed {
                    let dash = (5.0 * scale) as i32;
                    let mut x0 = x;
                    while x0 < x + mark {
                        let x1 = (x0 + dash).min(x + mark);
                        area.draw(&PathElement::new(vec![(x0, mid), (x1, mid)], style))?;
                        x0 += dash * 2;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(x, mid), (x + mark, mid)], style))?;
                }
            }
        }
        area.draw(&Text::new(
            label.clone(),
            (x + mark + gap, mid),
            font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// The image's colours and pixel ratio (the chart's own theme).
pub struct Ink {
    pub bg: RGBColor,
    pub fg: RGBColor,
    pub scale: f64,
}

/// If an export of `canvas` was asked for, draw `paint` again into an image of the canvas's
/// pixel size with the key below it, and download it as a PNG.
pub fn export_if_asked(
    canvas: &web_sys::HtmlCanvasElement,
    ink: &Ink,
    paint: &dyn Fn(&Area) -> DrawResult,
) -> DrawResult {
    let id = canvas.id();
    let Some(job) = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.as_ref().is_some_and(|j| j.canvas == id) {
            p.take()
        } else {
            None
        }
    }) else {
        return Ok(());
    };
    let (w, h) = (canvas.width(), canvas.height());
    let image: web_sys::HtmlCanvasElement = web_sys::window()
        .and_then(|win| win.document())
        .and_then(|d| d.create_element("canvas").ok())
        .and_then(|e| e.dyn_into().ok())
        .ok_or("the browser could not make a canvas")?;
    image.set_width(w);
    image.set_height(h);
    let area = Canvas2d::new(image.clone())
        .ok_or("the browser gave no 2D canvas")?
        .into_drawing_area();
    area.fill(&ink.bg)?;
    let font = ("sans-serif", 11.0 * ink.scale).into_font().color(&ink.fg);
    let entries = key_entries(canvas);
    let (at, rows) = layout(&area, &entries, &font, w, ink.scale);
    let row_h = (18.0 * ink.scale) as i32;
    // The key takes at most a third of the image; the chart keeps the rest.
    let key_h = (rows * row_h
        + if rows > 0 {
            (6.0 * ink.scale) as i32
        } else {
            0
        })
    .min(h as i32 / 3)
    .max(0);
    let (chart, key) = area.split_vertically(h as i32 - key_h);
    paint(&chart)?;
    draw_key(&key, &entries, &at, &font, row_h, ink.scale)?;
    area.present()?;
    let url = image
        .to_data_url()
        .map_err(|_| "the browser would not encode the image")?;
    files::download_url(&job.file, &url)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_colours() {
        assert_eq!(
            slug("Latency p50 and p95 by concurrency"),
            "latency-p50-and-p95-by-concurrency"
        );
        assert_eq!(slug("  Errors — over time!"), "errors-over-time");
        assert_eq!(
            css_color("rgb(31, 119, 180)", 1.0),
            Some(RGBAColor(31, 119, 180, 1.0))
        );
        assert_eq!(
            css_color("rgba(10, 20, 30, 0.5)", 0.5),
            Some(RGBAColor(10, 20, 30, 0.25))
        );
        assert_eq!(css_color("transparent", 1.0), None);
    }
}
