//! Bad usage or config exits 2 before anything is sent, with a message that names the flag.

mod common;

use common::{stampede, temp_dir, text};

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let dir = temp_dir("usage");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"tool\": {\"name\": \"k6\"}}").unwrap();
    let missing_dir = dir.join("no/such/dir/r.json");
    let cases: [(&[&str], &str); 12] = [
        (&["--test-suite", "huge"], "--test-suite"),
        (&["--stages", "2x"], "--stages: stage 1 `2x`"),
        (&["--stages", "2x10,0x5"], "--stages (stage 2): concurrency"),
        (&["--stages", "2x10@0/s"], "--stages (stage 1): the rate"),
        (&["--test-suite", "quick", "--stages", "2x10"], "--stages"),
        (&["--timeout", "0"], "--timeout: timeout must be between"),
        (&["--url", "ftp://host"], "--url: "),
        (&["--preset", "openai-chat"], "--model: "),
        (&["--preset", "nope"], "--preset: `nope`"),
        (
            &["--header", "no colon"],
            "--header: expected 'Name: value'",
        ),
        (&["--config", junk.to_str().unwrap()], "--config "),
        (&["--output", missing_dir.to_str().unwrap()], "--output "),
    ];
    for (args, want) in cases {
        let out = stampede(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: want {want:?} in\n{stderr}"
        );
    }
}

#[test]
fn the_api_key_is_never_echoed() {
    // A key the validation refuses: the message names the flag, not the key.
    let out = stampede(&[
        "--api-key",
        "sk-secret-{{i}}",
        "--url",
        "http://127.0.0.1:9",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--api-key"), "{stderr}");
    assert!(!stderr.contains("sk-secret"), "{stderr}");
    let help = text(&stampede(&["--help"]).stdout);
    assert!(help.contains("STAMPEDE_API_KEY") && help.contains("--stages"));
}
