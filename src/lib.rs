//! Stampede's browser side: the Leptos page and the engine's Web Worker share this crate and
//! one wasm file. `src/main.rs` starts the page; in the worker (`src/engine_worker.js`) the same
//! wasm starts the engine through its exported `start_engine_worker`.

pub mod app;
pub mod bench;
pub mod browser;
pub mod components;
pub mod engine_worker;
pub mod history;
pub mod session;
pub mod state;

/// Mount the page (or, opened with `?bench=stats`, run the statistics benchmark instead).
/// In the engine's worker, where this runs too as the wasm starts, there is no page to mount.
pub fn start_page() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_none() {
        return;
    }
    if bench::requested() {
        bench::run_stats();
        return;
    }
    leptos::mount::mount_to_body(app::App);
}
