//! A JSON POST for tests that drive a server with their own client (the
//! real binary, or an app in a test binary of its own).

use serde_json::Value;

/// POSTs `body` (with the bearer token, if any) and reads the JSON answer.
pub async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: &Value,
) -> Value {
    let mut req = client.post(url).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().json().await.unwrap()
}
