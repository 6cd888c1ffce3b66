//! The page's own URL: where a share or report link points, the fragment it arrived with (a
//! test or a report to open), and the clipboard a link is copied to.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

fn location() -> Option<web_sys::Location> {
    web_sys::window().map(|w| w.location())
}

/// The page's URL without its fragment (`origin + pathname + search`): a share link is this
/// plus `#` and the test, so it opens the same page wherever it is hosted.
pub fn page_url() -> String {
    let Some(l) = location() else {
        return String::new();
    };
    let part = |r: Result<String, wasm_bindgen::JsValue>| r.unwrap_or_default();
    format!(
        "{}{}{}",
        part(l.origin()),
        part(l.pathname()),
        part(l.search())
    )
}

/// The page's fragment (`location.hash`), without the `#`; empty when there is none.
pub fn fragment() -> String {
    location()
        .and_then(|l| l.hash().ok())
        .map(|h| h.trim_start_matches('#').to_string())
        .unwrap_or_default()
}

/// Drop the fragment from the address bar (no reload, no history entry) once its test is in
/// the form, so a reload restores the form as edited since, not the link again.
pub fn clear_fragment() {
    let Some(w) = web_sys::window() else {
        return;
    };
    let l = w.location();
    let url = format!(
        "{}{}",
        l.pathname().unwrap_or_default(),
        l.search().unwrap_or_default()
    );
    if let Ok(history) = w.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Put `text` on the clipboard; a message when the browser has no clipboard here (an insecure
/// page) or refuses.
pub async fn copy_text(text: &str) -> Result<(), String> {
    let refused = "the browser did not allow copying: select the link and copy it".to_string();
    let navigator = web_sys::window().ok_or(refused.clone())?.navigator();
    // `navigator.clipboard` is undefined outside secure contexts: calling it would throw.
    let clipboard: web_sys::Clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into())
        .ok()
        .and_then(|c| c.dyn_into().ok())
        .ok_or(refused.clone())?;
    JsFuture::from(clipboard.write_text(text))
        .await
        .map(|_| ())
        .map_err(|_| refused)
}
