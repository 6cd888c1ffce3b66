//! Request body templates: `{{prompt}}`, `{{model}}`, `{{max_tokens}}` and `{{i}}` placeholders.
//!
//! String values are inserted JSON-escaped without quotes, so a template writes `"{{prompt}}"`
//! and any prompt text stays valid JSON.

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
    let mut out = String::with_capacity(template.len() + vars.prompt.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("a '{{' has no closing '}}'".to_string());
        };
        let name = after[..close].trim();
        match name {
            "prompt" => out.push_str(&json_escape(vars.prompt)),
            "model" => out.push_str(&json_escape(vars.model)),
            "max_tokens" => out.push_str(&vars.max_tokens.to_string()),
            "i" => out.push_str(&vars.i.to_string()),
            other => {
                return Err(format!(
                    "unknown placeholder {{{{{other}}}}} (known: {})",
                    PLACEHOLDERS.map(|p| format!("{{{{{p}}}}}")).join(", ")
                ))
            }
        }
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
    fn no_placeholders_is_identity() {
        assert_eq!(render("{\"a\": 1}", &vars()).unwrap(), "{\"a\": 1}");
    }
}
