//! Request body templates: `{{prompt}}`, `{{model}}`, `{{max_tokens}}` and `{{i}}` placeholders;
//! header values take the same placeholders except `{{prompt}}`.
//!
//! In a body, string values are inserted JSON-escaped without quotes, so a template writes
//! `"{{prompt}}"` and any prompt text stays valid JSON; in a header they are inserted as they are.

/// Values for one request.
pub struct Vars<'a> {
    pub prompt: &'a str,
    pub model: &'a str,
    pub max_tokens: u32,
    pub i: u64,
}

pub const PLACEHOLDERS: [&str; 4] = ["prompt", "model", "max_tokens", "i"];

/// Substitute every placeholder; an unknown `{{name}}` is an error naming it.
pub fn render(template: &str, vars: &Vars) -> Result<String, String> {
    substitute(template, PLACEHOLDERS.as_slice(), |name| match name {
        "prompt" => json_escape(vars.prompt),
        "model" => json_escape(vars.model),
        "max_tokens" => vars.max_tokens.to_string(),
        _ => vars.i.to_string(),
    })
}

/// Placeholders a header value may hold. Not `{{prompt}}`: prompts are long and may hold
/// characters a header cannot carry (line breaks, non-Latin-1 text).
pub const HEADER_PLACEHOLDERS: [&str; 3] = ["model", "max_tokens", "i"];

/// A header value with its placeholders substituted as plain text (a header is not JSON), so
/// `run-{{i}}` gives each request its own id.
pub fn render_header(template: &str, vars: &Vars) -> Result<String, String> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    substitute(
        template,
        HEADER_PLACEHOLDERS.as_slice(),
        |name| match name {
            "model" => vars.model.to_string(),
            "max_tokens" => vars.max_tokens.to_string(),
            _ => vars.i.to_string(),
        },
    )
}

/// The text between a template's placeholders (`Bearer sk-{{i}}` → `Bearer sk-`).
pub fn literal_parts(template: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        parts.push(&rest[..open]);
        match rest[open..].find("}}") {
            Some(close) => rest = &rest[open + close + 2..],
            None => return parts,
        }
    }
    parts.push(rest);
    parts
}

/// Replace each `{{name}}` (names in `known`) by `value(name)`.
fn substitute(
    template: &str,
    known: &[&str],
    value: impl Fn(&str) -> String,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("a '{{' has no closing '}}'".to_string());
        };
        let name = after[..close].trim();
        if !known.contains(&name) {
            let list: Vec<String> = known.iter().map(|p| format!("{{{{{p}}}}}")).collect();
            return Err(format!(
                "unknown placeholder {{{{{name}}}}} (known: {})",
                list.join(", ")
            ));
        }
        out.push_str(&value(name));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// JSON string escaping without the surrounding quotes.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            prompt: "say \"hi\"\nnow",
            model: "m",
            max_tokens: 7,
            i: 3,
        }
    }

    #[test]
    fn substitutes_and_escapes() {
        let t = r#"{"p": "{{prompt}}", "m": "{{ model }}", "n": {{max_tokens}}, "i": {{i}}}"#;
        let out = render(t, &vars()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["p"], "say \"hi\"\nnow");
        assert_eq!(v["m"], "m");
        assert_eq!(v["n"], 7);
        assert_eq!(v["i"], 3);
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_errors() {
        let e = render("{{temp}}", &vars()).unwrap_err();
        assert!(e.contains("{{temp}}"), "{e}");
        assert!(render("{{prompt", &vars()).unwrap_err().contains("closing"));
    }

    #[test]
    fn headers_take_plain_values_but_no_prompt() {
        let v = Vars {
            model: "m\"x",
            ..vars()
        };
        assert_eq!(render_header("run-{{i}}", &v).unwrap(), "run-3");
        assert_eq!(
            render_header("{{model}}/{{ max_tokens }}", &v).unwrap(),
            "m\"x/7",
            "not JSON-escaped"
        );
        let e = render_header("{{prompt}}", &v).unwrap_err();
        assert!(
            e.contains("{{prompt}}") && !e.contains("{{prompt}},"),
            "{e}"
        );
        assert!(render_header("a {{i", &v).unwrap_err().contains("closing"));
        assert_eq!(render_header("plain", &v).unwrap(), "plain");
        assert_eq!(literal_parts("Bearer sk-{{i}}-x"), ["Bearer sk-", "-x"]);
        assert_eq!(literal_parts("{{i}}"), ["", ""]);
        assert_eq!(literal_parts("a {{i"), ["a "]);
    }

    #[test]
    fn no_placeholders_is_identity() {
        assert_eq!(render("{\"a\": 1}", &vars()).unwrap(), "{\"a\": 1}");
    }
}
