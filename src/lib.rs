//! Stampede's browser side: the Leptos page and the engine's Web Worker share this crate.
//! `src/main.rs` starts the page, `src/bin/worker.rs` the worker.

pub mod app;
pub mod browser;
pub mod components;
pub mod engine_worker;
pub mod history;
pub mod session;
pub mod state;

/// Mount the page.
pub fn start_page() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
