//! The browser's `localStorage`, thinly. Storage can be missing, disabled (private modes,
//! blocked cookies) or full: each call then reads as "nothing saved" or returns a message, so the
//! page works the same without it.

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The text saved under `key`, if storage is there and holds one.
pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok()?
}

/// Save `value` under `key`; a message when the browser refuses (no storage, quota).
pub fn set(key: &str, value: &str) -> Result<(), String> {
    local()
        .ok_or("this browser does not let the page keep anything")?
        .set_item(key, value)
        .map_err(|_| "the browser refused to save the form (storage full or disabled)".into())
}

pub fn remove(key: &str) {
    if let Some(storage) = local() {
        let _ = storage.remove_item(key);
    }
}
