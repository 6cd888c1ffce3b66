//! Drop a report anywhere on the page to open it, as "Import JSON" does; a hint covers the page
//! while files are dragged over it.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{too_big, MAX_REPORT_BYTES};

use crate::browser::files;
use crate::state::AppState;

#[component]
pub fn DropZone() -> impl IntoView {
    let state = expect_context::<AppState>();
    let dragging = RwSignal::new(false);
    // dragenter/dragleave fire for every element crossed: the hint goes when they balance.
    let depth = StoredValue::new(0_i32);
    // Window listeners, for the page's whole life (the component is never unmounted).
    let _ = window_event_listener(ev::dragenter, move |e| {
        if files::dragged_files(&e) {
            e.prevent_default();
            depth.update_value(|d| *d += 1);
            dragging.set(true);
        }
    });
    let _ = window_event_listener(ev::dragover, move |e| {
        // Without preventDefault the browser would open the file in place of the page.
        if files::dragged_files(&e) {
            e.prevent_default();
            if let Some(dt) = e.data_transfer() {
                dt.set_drop_effect(if state.running() { "none" } else { "copy" });
            }
        }
    });
    let _ = window_event_listener(ev::dragleave, move |e| {
        if files::dragged_files(&e) {
            depth.update_value(|d| *d = (*d - 1).max(0));
            if depth.get_value() == 0 {
                dragging.set(false);
            }
        }
    });
    let _ = window_event_listener(ev::drop, move |e| {
        if !files::dragged_files(&e) {
            return;
        }
        e.prevent_default();
        depth.set_value(0);
        dragging.set(false);
        let Some(file) = files::dropped_file(&e) else {
            return;
        };
        spawn_local(async move {
            let read = files::read_file(&file, MAX_REPORT_BYTES, too_big).await;
            state.import_file(read);
        });
    });
    move || {
        dragging.get().then(|| {
            let text = if state.running() {
                "A run is in progress: stop it or let it end to open a report."
            } else {
                "Drop a Stampede report (.json) to open it"
            };
            view! {
                <div class="drop-hint" id="drop-hint" aria-hidden="true">
                    <p>{text}</p>
                </div>
            }
        })
    }
}
