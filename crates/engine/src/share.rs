//! How a test leaves the page and comes back: the share link's fragment and the saved form.
//!
//! A share link carries the test in the URL's fragment (`#t1.…`, never sent to the host): the
//! config as the export policy redacts it (DESIGN §8), as JSON, deflated (`miniz_oxide`) and
//! base64url-encoded without padding. The saved form is the same redacted config, kept in the
//! browser's storage, plus the API key only when the user asked to remember it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::plan::MAX_STAGES;
use crate::secrets;

/// The format this page writes and reads. A link from a newer page says so instead of
/// half-loading.
const LINK_VERSION: u32 = 1;
const LINK_PREFIX: &str = "t1.";
/// Largest unpacked test a link may hold. The biggest real config is a few KiB; this bounds
/// what a hostile link can make the page allocate while inflating.
pub const MAX_LINK_CONFIG_BYTES: usize = 256 * 1024;
/// Compression level 9 of 10: configs are small, so the best ratio costs well under a ms.
const LEVEL: u8 = 9;

/// The fragment payload for `config` (without the `#`). Only what the export allow-list lets
/// out: no API key, no header value outside [`secrets::HARMLESS_HEADERS`] even when the user
/// opted in to exporting them (the line is left out, not carried as `[redacted]`), and
/// credential-like URL query values redacted.
pub fn encode_link(config: &RunConfig) -> String {
    let json = serde_json::to_vec(&shareable(config)).unwrap_or_default();
    let packed = miniz_oxide::deflate::compress_to_vec(&json, LEVEL);
    format!("{LINK_PREFIX}{}", URL_SAFE_NO_PAD.encode(packed))
}

/// The test in a share link's fragment (with or without the leading `#`), or a message for
/// the user saying why it cannot be read: not a share link, made by a newer page, or damaged.
pub fn decode_link(fragment: &str) -> Result<RunConfig, String> {
    let fragment = fragment.trim().trim_start_matches('#');
    let (version, payload) = fragment
        .split_once('.')
        .and_then(|(v, rest)| Some((v.strip_prefix('t')?.parse::<u32>().ok()?, rest)))
        .ok_or("this link's # part is not a Stampede share link: nothing was loaded")?;
    if version > LINK_VERSION {
        return Err(format!(
            "this share link was made by a newer Stampede (format t{version}; this page reads \
             t{LINK_VERSION}): open it with the page it came from. Nothing was loaded"
        ));
    }
    if version != LINK_VERSION {
        return Err(format!(
            "this share link has an unknown format (t{version}): nothing was loaded"
        ));
    }
    let damaged = |why: &str| {
        format!("this share link is damaged ({why}): copy it again in full. Nothing was loaded")
    };
    let packed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| damaged("it is not base64url"))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_LINK_CONFIG_BYTES)
        .map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => damaged(&format!(
            "it unpacks to more than {} KiB",
            MAX_LINK_CONFIG_BYTES / 1024
        )),
        _ => damaged("it does not unpack"),
    })?;
    let config: RunConfig = serde_json::from_slice(&json)
        .map_err(|e| damaged(&format!("the test in it reads wrong: {e}")))?;
    check_size(&config).map_err(|m| damaged(&m))?;
    Ok(config)
}

/// The config a share link carries: the export copy with the user's opt-in ignored, and the
/// header lines whose values it would redact left out entirely (a line without a `:` too: it
/// may be a value typed on its own line).
fn shareable(config: &RunConfig) -> RunConfig {
    let policy = RunConfig {
        include_header_values: false,
        ..config.clone()
    };
    let mut out = policy.redacted();
    out.headers = out
        .headers
        .lines()
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(name, _)| secrets::is_harmless_header(name))
        })
        .collect::<Vec<_>>()
        .join("\n");
    out
}

/// More stages than a plan may have would only make the form draw thousands of rows.
fn check_size(config: &RunConfig) -> Result<(), String> {
    if config.custom_stages.len() > MAX_STAGES {
        return Err(format!(
            "it holds {} stages, at most {MAX_STAGES} are allowed",
            config.custom_stages.len()
        ));
    }
    Ok(())
}

/// What the browser's storage keeps of the form between visits.
#[derive(Serialize, Deserialize)]
struct SavedForm {
    v: u32,
    config: RunConfig,
    /// Present only when the user ticked "Remember API key on this device".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

const SAVED_VERSION: u32 = 1;

/// The form as the browser's storage keeps it: header values and URL credentials as an export
/// keeps them (the user's opt-in counts here, as it does for exports), and the API key only
/// when `remember_key` is set.
pub fn save_form(config: &RunConfig, remember_key: bool) -> String {
    let saved = SavedForm {
        v: SAVED_VERSION,
        config: config.redacted(),
        api_key: remember_key.then(|| config.api_key.clone()),
    };
    serde_json::to_string(&saved).unwrap_or_default()
}

/// The form saved by [`save_form`] and whether its API key was remembered; a message when the
/// text is not a saved form this page can read (then the page starts from the defaults).
pub fn restore_form(text: &str) -> Result<(RunConfig, bool), String> {
    if text.len() > MAX_LINK_CONFIG_BYTES {
        return Err("the saved form is too large to be one: it was ignored".into());
    }
    let saved: SavedForm = serde_json::from_str(text)
        .map_err(|e| format!("the saved form could not be read ({e}): it was ignored"))?;
    if saved.v != SAVED_VERSION {
        return Err(format!(
            "the saved form has format {} (this page reads {SAVED_VERSION}): it was ignored",
            saved.v
        ));
    }
    check_size(&saved.config)
        .map_err(|m| format!("the saved form is wrong ({m}): it was ignored"))?;
    let remember = saved.api_key.is_some();
    let config = RunConfig {
        api_key: saved.api_key.unwrap_or_default(),
        ..saved.config
    };
    Ok((config, remember))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::{Framing, Preset};
    use crate::suite::{RateSpec, StageSpec, Suite};

    /// A custom test with everything a link carries set to something other than the default.
    fn custom_test() -> RunConfig {
        RunConfig {
            preset: Preset::Custom,
            endpoint: "https://llm.example.com/v1/chat/completions?team=ml&api_key=sk-hidden".into(),
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            max_tokens: 128,
            prompts: "Write a haiku about load.\nSummarise: \"quoted\" text".into(),
            headers: "Accept: text/event-stream\nX-Team: secret-team\nAuthorization: Bearer sk-h2\nUser-Agent: stampede-test".into(),
            api_key: "sk-the-key".into(),
            timeout_s: 45,
            suite: Suite::Custom,
            custom_stages: vec![
                StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: "warm".into(),
                    concurrency: 2,
                    requests: 10,
                    rate: None,
                },
                StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: "open".into(),
                    concurrency: 8,
                    requests: 20,
                    rate: Some(RateSpec {
                        per_s: 2.5,
                        poisson: true,
                        seed: 7,
                    }),
                },
            ],
            aliases: "https://llm2.example.com\nhttps://llm3.example.com".into(),
            warmup: Some(3),
            custom: crate::preset::RequestShape {
                framing: Framing::Sse,
                ..Preset::Custom.shape()
            },
            include_header_values: false,
            // SLO thresholds travel in the link like the rest of the test.
            slo: crate::thresholds::Slo {
                ttft_p95_ms: Some(500.0),
                ..crate::thresholds::Slo::default()
            },
        }
    }

    #[test]
    fn every_preset_and_suite_round_trips() {
        for preset in Preset::ALL {
            for suite in [
                Suite::Quick,
                Suite::Standard,
                Suite::Comprehensive,
                Suite::Custom,
            ] {
                let config = RunConfig {
                    preset,
                    suite,
                    model: "m".into(),
                    headers: "Accept: application/json".into(),
                    ..RunConfig::default()
                };
                let back = decode_link(&encode_link(&config));
                assert_eq!(back, Ok(config), "{preset:?} {suite:?}");
            }
        }
    }

    #[test]
    fn a_custom_test_round_trips_without_its_secrets() {
        let config = custom_test();
        let link = encode_link(&config);
        let back = decode_link(&format!("#{link}")).expect("the link reads back");
        let expected = RunConfig {
            api_key: String::new(),
            endpoint: "https://llm.example.com/v1/chat/completions?team=ml&api_key=[redacted]"
                .into(),
            headers: "Accept: text/event-stream\nUser-Agent: stampede-test".into(),
            ..config
        };
        assert_eq!(back, expected);
    }

    #[test]
    fn the_key_and_disallowed_header_values_are_not_in_the_link() {
        let config = RunConfig {
            include_header_values: true,
            ..custom_test()
        };
        let link = encode_link(&config);
        let json = String::from_utf8(
            miniz_oxide::inflate::decompress_to_vec(
                &URL_SAFE_NO_PAD
                    .decode(link.trim_start_matches(LINK_PREFIX))
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        for secret in [
            "sk-the-key",
            "secret-team",
            "X-Team",
            "sk-h2",
            "sk-hidden",
            "redacted]\n",
        ] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("text/event-stream"));
        assert!(
            !json.contains("include_header_values"),
            "the opt-in is not carried"
        );
    }

    #[test]
    fn stages_by_time_round_trip_and_older_links_still_read() {
        let mut config = custom_test();
        config.custom_stages.push(StageSpec {
            duration_s: Some(60),
            ramp_from: Some(2.0),
            name: "closed ramp".into(),
            concurrency: 10,
            requests: 0,
            rate: None,
        });
        config.custom_stages.push(StageSpec {
            duration_s: Some(30),
            ramp_from: Some(0.5),
            name: "open ramp".into(),
            concurrency: 50,
            requests: 0,
            rate: Some(RateSpec {
                per_s: 20.0,
                poisson: false,
                seed: 1,
            }),
        });
        let back = decode_link(&encode_link(&config)).expect("the link reads back");
        assert_eq!(back.custom_stages, config.custom_stages);
        // A link written before stages by time has stages without the two keys: such a link
        // reads as it did, stages by request count, and a count stage is still written so.
        let before = custom_test();
        let mut json = serde_json::to_value(shareable(&before)).unwrap();
        for st in json["custom_stages"].as_array_mut().unwrap() {
            let st = st.as_object_mut().unwrap();
            assert!(!st.contains_key("duration_s") && !st.contains_key("ramp_from"));
            st.remove("duration_s");
        }
        let packed = miniz_oxide::deflate::compress_to_vec(json.to_string().as_bytes(), LEVEL);
        let link = format!("{LINK_PREFIX}{}", URL_SAFE_NO_PAD.encode(packed));
        let stages = decode_link(&link).expect("an old link reads").custom_stages;
        assert_eq!(stages, before.custom_stages);
        assert!(stages
            .iter()
            .all(|s| s.duration_s.is_none() && s.requests > 0));
    }

    #[test]
    fn links_are_short() {
        // A custom Quick-sized test (2 stages, prompts, aliases, headers, SSE shape).
        let custom = encode_link(&custom_test()).len() + 1;
        println!("custom quick-sized test: {custom} characters after '#'");
        assert!(custom < 1_000, "{custom}");
        for suite in [Suite::Quick, Suite::Standard, Suite::Comprehensive] {
            let n = encode_link(&RunConfig {
                suite,
                ..RunConfig::default()
            })
            .len()
                + 1;
            println!("{suite:?} (default form): {n} characters after '#'");
            assert!(n < 1_000, "{n}");
        }
    }

    #[test]
    fn foreign_newer_and_damaged_links_say_why() {
        let good = encode_link(&custom_test());
        let cases = [
            ("", "not a Stampede share link"),
            ("#report=r.json", "not a Stampede share link"),
            ("#section-2", "not a Stampede share link"),
            ("t2.AAAA", "made by a newer Stampede (format t2"),
            ("t0.AAAA", "unknown format (t0)"),
            ("t1.***", "damaged (it is not base64url)"),
            ("t1.", "damaged"),
            ("t1.AAAA", "damaged (it does not unpack)"),
        ];
        for (input, want) in cases {
            let got = decode_link(input).expect_err(input);
            assert!(got.contains(want), "{input}: {got}");
            assert!(got.contains("Nothing was loaded") || got.contains("nothing was loaded"));
        }
        let cut = &good[..good.len() / 2];
        assert!(decode_link(cut).unwrap_err().contains("damaged"));
        let not_a_test = format!(
            "t1.{}",
            URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(b"{\"a\":1}", 6))
        );
        assert!(decode_link(&not_a_test)
            .unwrap_err()
            .contains("reads wrong"));
    }

    #[test]
    fn a_link_that_unpacks_past_the_limit_is_refused() {
        // 300 KiB of spaces deflates to a few hundred bytes: a small link, a large allocation.
        let bomb = vec![b' '; 300 * 1024];
        let link = format!(
            "t1.{}",
            URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&bomb, 9))
        );
        assert!(link.len() < 2_000, "{}", link.len());
        let got = decode_link(&link).unwrap_err();
        assert!(got.contains("more than 256 KiB"), "{got}");
    }

    #[test]
    fn too_many_stages_are_refused() {
        let stage = StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "s".into(),
            concurrency: 1,
            requests: 1,
            rate: None,
        };
        let config = RunConfig {
            suite: Suite::Custom,
            custom_stages: vec![stage; MAX_STAGES + 1],
            ..RunConfig::default()
        };
        assert!(decode_link(&encode_link(&config))
            .unwrap_err()
            .contains("stages"));
    }

    #[test]
    fn the_saved_form_keeps_the_key_only_when_asked() {
        let config = custom_test();
        let (back, remember) = restore_form(&save_form(&config, false)).unwrap();
        assert!(!remember);
        assert_eq!(back.api_key, "");
        assert!(!save_form(&config, false).contains("sk-the-key"));
        assert!(!save_form(&config, false).contains("secret-team"));
        // The export policy: the header line stays, its value reads [redacted].
        assert!(back.headers.contains("X-Team: [redacted]"));
        assert_eq!(back.custom_stages, config.custom_stages);
        assert_eq!(back.prompts, config.prompts);

        let (back, remember) = restore_form(&save_form(&config, true)).unwrap();
        assert!(remember);
        assert_eq!(back.api_key, "sk-the-key");

        let opted = RunConfig {
            include_header_values: true,
            ..custom_test()
        };
        let (back, _) = restore_form(&save_form(&opted, false)).unwrap();
        assert!(back.headers.contains("X-Team: secret-team"));
    }

    #[test]
    fn a_bad_saved_form_is_ignored_with_a_reason() {
        assert!(restore_form("").unwrap_err().contains("could not be read"));
        assert!(restore_form("{\"v\":2,\"config\":{}}").is_err());
        let newer = save_form(&RunConfig::default(), false).replace("\"v\":1", "\"v\":9");
        assert!(restore_form(&newer).unwrap_err().contains("format 9"));
    }
}
