//! Thin browser glue: everything here talks to web-sys; nothing here decides anything.

pub mod env;
pub mod files;
pub mod transport;

/// `performance.now()` in ms; 0 if the page has no Performance object (never in a real browser).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}
