//! Model detection: where to ask a server for its models, and the model names in its answer
//! (OpenAI's `GET /v1/models`, Ollama's `GET /api/tags`). The page does the fetch; this says
//! what to fetch and how to read it, so it is tested natively.

use crate::config::RunConfig;
use crate::preset::Preset;

/// Names offered from one answer, at most: a list is for picking, not for reading in full.
pub const MAX_MODELS: usize = 200;

/// The model-list URL for the config's server, or `None` for an API that has none (seed, TGI,
/// Custom). The preset's own path is taken off the request URL (so `…/v1` and
/// `…/v1/chat/completions` give the same list); a query string is kept (it may carry a key).
pub fn models_url(config: &RunConfig) -> Option<String> {
    let list = match config.preset {
        Preset::OpenaiChatStream
        | Preset::OpenaiChat
        | Preset::OpenaiCompletionsStream
        | Preset::OpenaiCompletions => "/v1/models",
        Preset::OllamaChat | Preset::OllamaGenerate => "/api/tags",
        _ => return None,
    };
    let url = config.request_url();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (url, None),
    };
    let base = path.strip_suffix(config.preset.path()).unwrap_or(&path);
    Some(match query {
        Some(q) => format!("{base}{list}?{q}"),
        None => format!("{base}{list}"),
    })
}

/// Model names in a model-list body: OpenAI's `data[].id` or Ollama's `models[].name`, in the
/// server's order, without repeats, at most [`MAX_MODELS`]. An error says what was wrong.
pub fn parse_models(body: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| format!("the server's model list is not JSON ({e})"))?;
    let (list, key) = if let Some(data) = v.get("data").and_then(|d| d.as_array()) {
        (data, "id")
    } else if let Some(models) = v.get("models").and_then(|m| m.as_array()) {
        (models, "name")
    } else {
        return Err("the answer has no model list (expected data[].id or models[].name)".into());
    };
    let mut names: Vec<String> = Vec::new();
    for name in list.iter().filter_map(|m| m.get(key)?.as_str()) {
        let name = name.trim();
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        if names.len() == MAX_MODELS {
            break;
        }
    }
    if names.is_empty() {
        return Err("the server lists no models".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(preset: Preset, endpoint: &str) -> RunConfig {
        RunConfig {
            preset,
            endpoint: endpoint.into(),
            ..RunConfig::default()
        }
    }

    #[test]
    fn the_list_url_follows_the_preset_and_keeps_the_query() {
        let url = |p, e| models_url(&config(p, e));
        assert_eq!(
            url(Preset::OpenaiChatStream, "http://h:8000").as_deref(),
            Some("http://h:8000/v1/models")
        );
        assert_eq!(
            url(Preset::OpenaiChat, "http://h:8000/v1/").as_deref(),
            Some("http://h:8000/v1/models")
        );
        assert_eq!(
            url(Preset::OpenaiCompletions, "http://h/x/v1/completions?key=k").as_deref(),
            Some("http://h/x/v1/models?key=k")
        );
        assert_eq!(
            url(Preset::OllamaChat, "http://h:11434").as_deref(),
            Some("http://h:11434/api/tags")
        );
        assert_eq!(
            url(Preset::OllamaGenerate, "http://h:11434/api").as_deref(),
            Some("http://h:11434/api/tags")
        );
        assert_eq!(url(Preset::Seed, "http://h:8000"), None);
        assert_eq!(url(Preset::TgiGenerate, "http://h:8000"), None);
    }

    #[test]
    fn names_come_from_either_list_once_each() {
        let openai =
            r#"{"object":"list","data":[{"id":"llama-3"},{"id":"qwen"},{"id":"llama-3"},{"x":1}]}"#;
        assert_eq!(
            parse_models(openai),
            Ok(vec!["llama-3".to_string(), "qwen".to_string()])
        );
        let ollama = r#"{"models":[{"name":"llama3:8b","model":"llama3:8b"}]}"#;
        assert_eq!(parse_models(ollama), Ok(vec!["llama3:8b".to_string()]));
        assert!(parse_models("<html>").is_err_and(|e| e.contains("not JSON")));
        assert!(parse_models(r#"{"data":[]}"#).is_err_and(|e| e.contains("no models")));
        assert!(parse_models(r#"{"ok":true}"#).is_err_and(|e| e.contains("no model list")));
        let many: Vec<String> = (0..300).map(|i| format!(r#"{{"id":"m{i}"}}"#)).collect();
        let body = format!(r#"{{"data":[{}]}}"#, many.join(","));
        assert_eq!(parse_models(&body).map(|n| n.len()), Ok(MAX_MODELS));
    }
}
