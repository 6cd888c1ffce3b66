//! Hosted reports: what the page's URL fragment asks for (a report to fetch, `#report=<url>`, or
//! a test, `#t1.…`), the report link the page offers after an export, and what to tell the user
//! when a linked report cannot be fetched or read.
//!
//! The browser does the fetching; everything decided about it is here, so it is tested natively.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::report::{too_big, Report, MAX_REPORT_BYTES};

/// The fragment key of a report link.
const REPORT_KEY: &str = "report=";

/// What the fragment the page was opened with (or changed to) asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Fragment {
    /// No fragment, or a bare `#`.
    Empty,
    /// `#report=<url>`: the report at this URL (percent-decoded; relative to the page, or
    /// absolute).
    Report(String),
    /// `#report=` that names nothing readable: why, for the user.
    BadReport(String),
    /// Anything else, without the `#`: a share link's test if `decode_link` can read it.
    Test(String),
}

/// Classify the page's fragment (`location.hash`, with or without its `#`).
pub fn read_fragment(hash: &str) -> Fragment {
    let fragment = hash.trim().trim_start_matches('#');
    if fragment.is_empty() {
        return Fragment::Empty;
    }
    let Some(encoded) = fragment.strip_prefix(REPORT_KEY) else {
        return Fragment::Test(fragment.to_string());
    };
    match percent_decode_str(encoded).decode_utf8() {
        Ok(url) if url.trim().is_empty() => Fragment::BadReport(
            "This report link names no report (nothing after #report=). Nothing was opened.".into(),
        ),
        Ok(url) => Fragment::Report(url.trim().to_string()),
        Err(_) => Fragment::BadReport(
            "This report link is damaged (its URL is not valid percent-encoded UTF-8). Nothing \
             was opened."
                .into(),
        ),
    }
}

/// Characters a report URL cannot carry as they are inside a fragment (RFC 3986 allows the
/// rest): controls, space, quotes, angle brackets, backtick, and `#`/`%` so the link decodes
/// back to exactly `url`.
const FRAGMENT_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'%');

/// The link that opens the report at `url` (e.g. an exported file's name, relative to the
/// page) on the page at `page_url`; any fragment of `page_url` is dropped.
pub fn report_link(page_url: &str, url: &str) -> String {
    let page = page_url.split('#').next().unwrap_or(page_url);
    format!(
        "{page}#{REPORT_KEY}{}",
        utf8_percent_encode(url, FRAGMENT_UNSAFE)
    )
}

/// Where a report link points, as the page will fetch it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportSource {
    /// Absolute URL, resolved against the page's.
    pub url: String,
    /// The file name to show (the URL's last path segment, else the URL).
    pub name: String,
    /// On another origin than the page: the server must allow it by CORS.
    pub cross_origin: bool,
}

/// Resolve the report link's `link` against the page at `page_url` (as `fetch` does); a
/// message when it is not an http(s) URL the page can fetch.
pub fn resolve_report(page_url: &str, link: &str) -> Result<ReportSource, String> {
    let refused =
        |why: &str| format!("This report link cannot be opened ({why}). Nothing was opened.");
    let page =
        url::Url::parse(page_url).map_err(|_| refused("the page's own URL is unreadable"))?;
    let url = page
        .join(link)
        .map_err(|e| refused(&format!("`{link}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(&format!(
            "`{link}` is a {}: URL; only http and https reports can be fetched",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("it carries a user name or password"));
    }
    let name = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .unwrap_or_else(|| url.to_string());
    Ok(ReportSource {
        cross_origin: url.origin() != page.origin(),
        url: url.to_string(),
        name,
    })
}

/// Why fetching a linked report failed, as the browser's fetch tells it.
#[derive(Clone, Debug, PartialEq)]
pub enum FetchFailure {
    /// No response at all (a `TypeError`): the server is down, unreachable, or (cross-origin)
    /// did not allow this page by CORS — the browser does not say which.
    Network,
    /// An answer that is not 2xx: its status and reason phrase.
    Status(u16, String),
    /// The body is larger than an import accepts (its size in bytes, announced or read).
    TooBig(usize),
    /// The body could not be read as text.
    Unreadable,
}

/// The message for a failed fetch of `source`, naming the likely cause.
pub fn fetch_message(source: &ReportSource, failure: &FetchFailure) -> String {
    let url = &source.url;
    let why = match failure {
        FetchFailure::Network if source.cross_origin => format!(
            "the request to {url} got no answer. It is on another origin than this page, so \
             CORS is the likely cause: that server must answer with \
             Access-Control-Allow-Origin for this page (or put the report next to the page)"
        ),
        FetchFailure::Network => {
            format!("the request to {url} got no answer (is the server up and reachable?)")
        }
        FetchFailure::Status(404, _) => format!(
            "there is no report at {url} (HTTP 404 Not Found): put the file next to the page, \
             or check the link's file name"
        ),
        FetchFailure::Status(status, text) => {
            let text = text.trim();
            if text.is_empty() {
                format!("the server answered HTTP {status} for {url}")
            } else {
                format!("the server answered HTTP {status} {text} for {url}")
            }
        }
        FetchFailure::TooBig(bytes) => format!("{url}: {}", too_big(*bytes)),
        FetchFailure::Unreadable => format!("the answer from {url} could not be read as text"),
    };
    format!(
        "Could not open the linked report: {}. Nothing was opened.",
        why.trim_end_matches('.')
    )
}

/// The fetched `text` of `source` as a report, or the import's own message for why not.
pub fn open_fetched(source: &ReportSource, text: &str) -> Result<Report, String> {
    if text.len() > MAX_REPORT_BYTES {
        return Err(fetch_message(source, &FetchFailure::TooBig(text.len())));
    }
    Report::from_json(text).map_err(|e| {
        format!(
            "Could not open the linked report: {} is not a report Stampede can open. {e} \
             Nothing was opened.",
            source.url
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "https://tools.example.com/team/tools/stampede/?v=2";

    #[test]
    fn fragments_are_classified() {
        let cases = [
            ("", Fragment::Empty),
            ("#", Fragment::Empty),
            ("#report=r.json", Fragment::Report("r.json".into())),
            ("report=r.json", Fragment::Report("r.json".into())),
            (
                "#report=https%3A%2F%2Fcdn.example.com%2Fruns%2Fnight%201.json",
                Fragment::Report("https://cdn.example.com/runs/night 1.json".into()),
            ),
            // Not encoded at all also works: the fragment is taken as it is.
            (
                "#report=https://cdn.example.com/r.json?x=1",
                Fragment::Report("https://cdn.example.com/r.json?x=1".into()),
            ),
            ("#t1.AAAA", Fragment::Test("t1.AAAA".into())),
            ("#section-2", Fragment::Test("section-2".into())),
            // `report` without `=` is not a report link.
            ("#report", Fragment::Test("report".into())),
        ];
        for (hash, want) in cases {
            assert_eq!(read_fragment(hash), want, "{hash}");
        }
        for bad in ["#report=", "#report=%20", "#report=%FF%FE"] {
            match read_fragment(bad) {
                Fragment::BadReport(m) => assert!(m.ends_with("Nothing was opened."), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_report_link_reads_back_to_its_url() {
        let name = "stampede-report-2026-12-02T16-14-00.000Z.json";
        let link = report_link("http://h/team/stampede/#t1.old", name);
        assert_eq!(link, format!("http://h/team/stampede/#report={name}"));
        for url in [
            name,
            "runs/night 1.json",
            "https://cdn.example.com/a%20b.json?sig=x#frag",
            "ünïcode.json",
        ] {
            let link = report_link(PAGE, url);
            let hash = link.split_once('#').unwrap().1;
            assert!(!hash.contains(' ') && !hash.contains('#'), "{link}");
            assert_eq!(read_fragment(hash), Fragment::Report(url.into()), "{link}");
        }
    }

    #[test]
    fn report_urls_resolve_against_the_page() {
        let s = resolve_report(PAGE, "r.json").unwrap();
        assert_eq!(
            s.url,
            "https://tools.example.com/team/tools/stampede/r.json"
        );
        assert_eq!((s.name.as_str(), s.cross_origin), ("r.json", false));
        let s = resolve_report(PAGE, "../runs/night%201.json").unwrap();
        assert_eq!(
            s.url,
            "https://tools.example.com/team/tools/runs/night%201.json"
        );
        assert_eq!(s.name, "night 1.json");
        let s = resolve_report(PAGE, "/r.json").unwrap();
        assert_eq!(s.url, "https://tools.example.com/r.json");
        let s = resolve_report(PAGE, "https://cdn.example.com/x/").unwrap();
        assert!(s.cross_origin);
        assert_eq!(s.name, "https://cdn.example.com/x/");
        // Another port is another origin.
        assert!(
            resolve_report("http://127.0.0.1:8080/", "http://127.0.0.1:8081/r.json")
                .unwrap()
                .cross_origin
        );
        for (bad, why) in [
            ("javascript:alert(1)", "javascript: URL"),
            ("file:///etc/passwd", "file: URL"),
            (
                "https://u:p@cdn.example.com/r.json",
                "user name or password",
            ),
            ("http://[::1/r.json", "is not a URL"),
        ] {
            let e = resolve_report(PAGE, bad).unwrap_err();
            assert!(
                e.contains(why) && e.ends_with("Nothing was opened."),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn fetch_failures_name_their_cause() {
        let same = resolve_report(PAGE, "r.json").unwrap();
        let cross = resolve_report(PAGE, "https://cdn.example.com/r.json").unwrap();
        let m = fetch_message(&cross, &FetchFailure::Network);
        assert!(
            m.contains("CORS is the likely cause") && m.contains("Access-Control-Allow-Origin"),
            "{m}"
        );
        let m = fetch_message(&same, &FetchFailure::Network);
        assert!(!m.contains("CORS") && m.contains("got no answer"), "{m}");
        let m = fetch_message(&same, &FetchFailure::Status(404, "Not Found".into()));
        assert!(
            m.contains("HTTP 404 Not Found") && m.contains(&same.url),
            "{m}"
        );
        let m = fetch_message(&same, &FetchFailure::Status(403, "Forbidden".into()));
        assert!(m.contains("HTTP 403 Forbidden"), "{m}");
        let m = fetch_message(&same, &FetchFailure::Status(500, String::new()));
        assert!(m.contains("HTTP 500 for"), "{m}");
        let m = fetch_message(&same, &FetchFailure::TooBig(500_000_000));
        assert!(m.contains("500 MB"), "{m}");
        for f in [FetchFailure::Network, FetchFailure::Unreadable] {
            let m = fetch_message(&same, &f);
            assert!(m.starts_with("Could not open the linked report: "), "{m}");
            assert!(m.ends_with("Nothing was opened."), "{m}");
        }
    }

    #[test]
    fn fetched_text_gets_the_import_checks() {
        let s = resolve_report(PAGE, "r.json").unwrap();
        let m = open_fetched(&s, "{\"models\": []}").unwrap_err();
        assert!(
            m.contains("not a Stampede report") && m.contains(&s.url),
            "{m}"
        );
        let m = open_fetched(&s, "<!doctype html><p>hi").unwrap_err();
        assert!(m.contains("not JSON"), "{m}");
        let config = crate::config::RunConfig::default();
        let agg = crate::stats::Aggregator::new(config.stages());
        let report = Report::new(
            "2026-01-01T00:00:00.000Z".into(),
            &config,
            Default::default(),
            false,
            &agg,
        );
        let back = open_fetched(&s, &report.to_json()).unwrap();
        assert_eq!(back.created_at, report.created_at);
    }
}
