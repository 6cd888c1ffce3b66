//! Presets: for each kind of model API, the path appended to the endpoint, the body template
//! and how the response is read (framing and JSON pointers). Custom takes all of them from the user.

use serde::{Deserialize, Serialize};

/// A preset fixes the path appended to the endpoint, the body template and how the response
/// is read. Custom takes all of them from the user. vLLM, SGLang, llama.cpp and other
/// OpenAI-compatible servers use the OpenAI presets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    #[default]
    Seed,
    OpenaiChatStream,
    OpenaiChat,
    OpenaiCompletionsStream,
    OpenaiCompletions,
    OllamaChat,
    OllamaGenerate,
    TgiGenerateStream,
    TgiGenerate,
    Custom,
}

/// How a response body is framed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// One JSON document.
    #[default]
    Json,
    /// Server-sent events, one JSON object per `data:` event.
    Sse,
    /// One JSON object per line.
    Ndjson,
}

/// How to build a request and read its response. Built-in presets have fixed values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestShape {
    pub method: String,
    pub body_template: String,
    #[serde(default)]
    pub framing: Framing,
    /// JSON pointer to the generated text: the whole text for JSON bodies, the content delta of
    /// each event for streams (a string, for the request to succeed).
    pub text_pointer: String,
    /// Streams: pointer to a reasoning delta (counts as generated content); empty = none.
    #[serde(default)]
    pub reasoning_pointer: String,
    /// Streams: pointer to a tool-call delta (counts as generated content); empty = none.
    #[serde(default)]
    pub tool_calls_pointer: String,
    /// JSON pointer to the server's output token count; empty = count events or estimate.
    pub tokens_pointer: String,
    /// JSON pointer to the server's prompt token count; empty = none.
    #[serde(default)]
    pub prompt_tokens_pointer: String,
    /// JSON pointer to the server's own tokens/s figure; empty = none.
    pub server_tps_pointer: String,
    /// Streams: pointer that is true or non-null on the terminal event; empty = SSE `[DONE]`.
    #[serde(default)]
    pub done_pointer: String,
    /// Streams: a body that ends without a terminal event is a `parse` error (truncated).
    #[serde(default)]
    pub require_terminal: bool,
}

impl Default for RequestShape {
    fn default() -> Self {
        Preset::OpenaiChatStream.shape()
    }
}

impl Preset {
    pub const ALL: [Preset; 10] = [
        Preset::Seed,
        Preset::OpenaiChatStream,
        Preset::OpenaiChat,
        Preset::OpenaiCompletionsStream,
        Preset::OpenaiCompletions,
        Preset::OllamaChat,
        Preset::OllamaGenerate,
        Preset::TgiGenerateStream,
        Preset::TgiGenerate,
        Preset::Custom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Preset::Seed => "Seed model API (POST /generate)",
            Preset::OpenaiChatStream => "OpenAI chat (streaming)",
            Preset::OpenaiChat => "OpenAI chat completions",
            Preset::OpenaiCompletionsStream => "OpenAI completions (streaming)",
            Preset::OpenaiCompletions => "OpenAI completions",
            Preset::OllamaChat => "Ollama /api/chat (streaming)",
            Preset::OllamaGenerate => "Ollama /api/generate (streaming)",
            Preset::TgiGenerateStream => "TGI /generate_stream (streaming)",
            Preset::TgiGenerate => "TGI /generate",
            Preset::Custom => "Custom",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Preset::Seed => "seed",
            Preset::OpenaiChatStream => "openai-chat-stream",
            Preset::OpenaiChat => "openai-chat",
            Preset::OpenaiCompletionsStream => "openai-completions-stream",
            Preset::OpenaiCompletions => "openai-completions",
            Preset::OllamaChat => "ollama-chat",
            Preset::OllamaGenerate => "ollama-generate",
            Preset::TgiGenerateStream => "tgi-generate-stream",
            Preset::TgiGenerate => "tgi-generate",
            Preset::Custom => "custom",
        }
    }

    pub fn from_id(id: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Path appended to the base URL; Custom takes the endpoint as the full URL.
    pub fn path(self) -> &'static str {
        match self {
            Preset::Seed | Preset::TgiGenerate => "/generate",
            Preset::OpenaiChatStream | Preset::OpenaiChat => "/v1/chat/completions",
            Preset::OpenaiCompletionsStream | Preset::OpenaiCompletions => "/v1/completions",
            Preset::OllamaChat => "/api/chat",
            Preset::OllamaGenerate => "/api/generate",
            Preset::TgiGenerateStream => "/generate_stream",
            Preset::Custom => "",
        }
    }

    pub fn needs_model(self) -> bool {
        !matches!(
            self,
            Preset::Seed | Preset::TgiGenerate | Preset::TgiGenerateStream | Preset::Custom
        )
    }

    /// The preset's request shape; Custom starts from the OpenAI chat stream.
    pub fn shape(self) -> RequestShape {
        let s = |x: &str| x.to_string();
        let chat = r#""model": "{{model}}", "messages": [{"role": "user", "content": "{{prompt}}"}], "max_tokens": {{max_tokens}}, "temperature": 0.7"#;
        let completion = r#""model": "{{model}}", "prompt": "{{prompt}}", "max_tokens": {{max_tokens}}, "temperature": 0.7"#;
        let stream = r#", "stream": true, "stream_options": {"include_usage": true}"#;
        let ollama =
            r#""stream": true, "options": {"num_predict": {{max_tokens}}, "temperature": 0.7}"#;
        let tgi = r#"{"inputs": "{{prompt}}", "parameters": {"max_new_tokens": {{max_tokens}}, "temperature": 0.7, "details": true}}"#;
        let base = RequestShape {
            method: s("POST"),
            body_template: String::new(),
            framing: Framing::Json,
            text_pointer: String::new(),
            reasoning_pointer: String::new(),
            tool_calls_pointer: String::new(),
            tokens_pointer: String::new(),
            prompt_tokens_pointer: String::new(),
            server_tps_pointer: String::new(),
            done_pointer: String::new(),
            require_terminal: false,
        };
        let openai = |body: String, framing, text: &str| RequestShape {
            body_template: body,
            framing,
            text_pointer: s(text),
            reasoning_pointer: if framing == Framing::Sse && text.contains("delta") {
                s("/choices/0/delta/reasoning_content")
            } else {
                String::new()
            },
            tool_calls_pointer: if framing == Framing::Sse && text.contains("delta") {
                s("/choices/0/delta/tool_calls")
            } else {
                String::new()
            },
            tokens_pointer: s("/usage/completion_tokens"),
            prompt_tokens_pointer: s("/usage/prompt_tokens"),
            require_terminal: framing == Framing::Sse,
            ..base.clone()
        };
        match self {
            Preset::Seed => RequestShape {
                body_template: s(
                    r#"{"prompt": "{{prompt}}", "max_length": {{max_tokens}}, "temperature": 0.7, "do_sample": true}"#,
                ),
                text_pointer: s("/generated_text"),
                server_tps_pointer: s("/tokens_per_second"),
                ..base
            },
            Preset::OpenaiChatStream | Preset::Custom => openai(
                format!("{{{chat}{stream}}}"),
                Framing::Sse,
                "/choices/0/delta/content",
            ),
            Preset::OpenaiChat => openai(
                format!("{{{chat}}}"),
                Framing::Json,
                "/choices/0/message/content",
            ),
            Preset::OpenaiCompletionsStream => openai(
                format!("{{{completion}{stream}}}"),
                Framing::Sse,
                "/choices/0/text",
            ),
            Preset::OpenaiCompletions => openai(
                format!("{{{completion}}}"),
                Framing::Json,
                "/choices/0/text",
            ),
            Preset::OllamaChat | Preset::OllamaGenerate => {
                let chat = self == Preset::OllamaChat;
                let body = if chat {
                    format!(
                        r#"{{"model": "{{{{model}}}}", "messages": [{{"role": "user", "content": "{{{{prompt}}}}"}}], {ollama}}}"#
                    )
                } else {
                    format!(r#"{{"model": "{{{{model}}}}", "prompt": "{{{{prompt}}}}", {ollama}}}"#)
                };
                RequestShape {
                    body_template: body,
                    framing: Framing::Ndjson,
                    text_pointer: s(if chat {
                        "/message/content"
                    } else {
                        "/response"
                    }),
                    reasoning_pointer: s(if chat {
                        "/message/thinking"
                    } else {
                        "/thinking"
                    }),
                    tool_calls_pointer: if chat {
                        s("/message/tool_calls")
                    } else {
                        String::new()
                    },
                    tokens_pointer: s("/eval_count"),
                    prompt_tokens_pointer: s("/prompt_eval_count"),
                    done_pointer: s("/done"),
                    require_terminal: true,
                    ..base
                }
            }
            Preset::TgiGenerateStream => RequestShape {
                body_template: s(tgi),
                framing: Framing::Sse,
                text_pointer: s("/token/text"),
                tokens_pointer: s("/details/generated_tokens"),
                done_pointer: s("/generated_text"),
                require_terminal: true,
                ..base
            },
            Preset::TgiGenerate => RequestShape {
                body_template: s(tgi),
                text_pointer: s("/generated_text"),
                tokens_pointer: s("/details/generated_tokens"),
                ..base
            },
        }
    }
}
