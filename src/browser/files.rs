//! Saving a report to a file and reading one back: chosen, dropped on the page, or fetched
//! from a report link.

use stampede_engine::FetchFailure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Offer the concatenation of `parts` as a download named `name`; the browser joins them in
/// the Blob, so a large report is never one string. Errors are for the user to see.
pub fn download(name: &str, parts: &[String]) -> Result<(), String> {
    download_typed(name, "application/json", parts)
}

/// [`download`] with the file's media type (`text/csv`).
pub fn download_typed(name: &str, media_type: &str, parts: &[String]) -> Result<(), String> {
    let fail = |what: &str| format!("could not start the download ({what})");
    let parts: js_sys::Array = parts
        .iter()
        .map(|p| wasm_bindgen::JsValue::from_str(p))
        .collect();
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(media_type);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .map_err(|_| fail("blob"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| fail("object URL"))?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| fail("no document"))?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|_| fail("anchor"))?
        .dyn_into()
        .map_err(|_| fail("anchor"))?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Offer `url` (a `data:` URL, as a canvas encodes an image) as a download named `name`.
pub fn download_url(name: &str, url: &str) -> Result<(), String> {
    let fail = |what: &str| format!("could not start the download ({what})");
    let a: web_sys::HtmlAnchorElement = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| fail("no document"))?
        .create_element("a")
        .map_err(|_| fail("anchor"))?
        .dyn_into()
        .map_err(|_| fail("anchor"))?;
    a.set_href(url);
    a.set_download(name);
    a.click();
    Ok(())
}

/// The text of the first file chosen in `input`, with its name; a file over `max_bytes` is
/// refused before it is read, with `too_big`'s message.
pub async fn read_chosen(
    input: &web_sys::HtmlInputElement,
    max_bytes: usize,
    too_big: fn(usize) -> String,
) -> Result<(String, String), String> {
    let file = input
        .files()
        .and_then(|f| f.get(0))
        .ok_or("no file was chosen")?;
    read_file(&file, max_bytes, too_big).await
}

/// The text of `file` (chosen or dropped), with its name; refused over `max_bytes` unread.
pub async fn read_file(
    file: &web_sys::File,
    max_bytes: usize,
    too_big: fn(usize) -> String,
) -> Result<(String, String), String> {
    if file.size() > max_bytes as f64 {
        return Err(format!(
            "{}: {}",
            file.name(),
            too_big(file.size() as usize)
        ));
    }
    let text = JsFuture::from(file.text())
        .await
        .map_err(|_| format!("could not read {}", file.name()))?;
    let text = text
        .as_string()
        .ok_or_else(|| format!("{} is not a text file", file.name()))?;
    Ok((file.name(), text))
}

/// Whether a drag carries files (`types` lists "Files"), not text or a link from the page.
pub fn dragged_files(ev: &web_sys::DragEvent) -> bool {
    ev.data_transfer()
        .is_some_and(|dt| dt.types().includes(&"Files".into(), 0))
}

/// The first file dropped.
pub fn dropped_file(ev: &web_sys::DragEvent) -> Option<web_sys::File> {
    ev.data_transfer()?.files()?.get(0)
}

/// GET `url` as text (a linked report): what failed, for the engine to word. A body announced
/// or read over `max_bytes` is refused.
pub async fn fetch_text(url: &str, max_bytes: usize) -> Result<String, FetchFailure> {
    let resp = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|_| FetchFailure::Network)?;
    if !resp.ok() {
        return Err(FetchFailure::Status(resp.status(), resp.status_text()));
    }
    let announced = resp
        .headers()
        .get("content-length")
        .and_then(|n| n.trim().parse::<usize>().ok());
    if let Some(n) = announced.filter(|&n| n > max_bytes) {
        return Err(FetchFailure::TooBig(n));
    }
    let text = resp.text().await.map_err(|_| FetchFailure::Unreadable)?;
    if text.len() > max_bytes {
        return Err(FetchFailure::TooBig(text.len()));
    }
    Ok(text)
}
