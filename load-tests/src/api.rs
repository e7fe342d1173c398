//! The few API calls the scenarios make, with the contract's envelope
//! unwrapped.

use std::time::Duration;

use serde_json::{json, Value};

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

/// One answer: HTTP status and the envelope's code and data.
pub struct Answer {
    pub status: u16,
    pub code: i64,
    pub data: Value,
}

impl Api {
    pub fn new(base: &str, connections: usize) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Answer, String> {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| short_error(&e))?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        Ok(Answer {
            status,
            code: body["code"].as_i64().unwrap_or(-1),
            data: body["data"].clone(),
        })
    }

    /// Dev login: (token, user id).
    pub async fn login(&self, name: &str) -> Result<(String, i64), String> {
        let a = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"code": format!("dev:{name}")})),
            )
            .await?;
        match (a.data["token"].as_str(), a.data["user"]["id"].as_i64()) {
            (Some(t), Some(id)) => Ok((t.to_string(), id)),
            _ => Err(format!("login {name}: HTTP {} code {}", a.status, a.code)),
        }
    }

    pub async fn create_event(&self, token: &str, body: Value) -> Result<i64, String> {
        let a = self
            .call(
                reqwest::Method::POST,
                "/api/v1/events",
                Some(token),
                Some(body),
            )
            .await?;
        a.data["id"]
            .as_i64()
            .ok_or_else(|| format!("create event: HTTP {} code {}", a.status, a.code))
    }

    /// `POST /draw` of a manual event; how long until the answer, which
    /// comes once the draw committed.
    pub async fn draw(&self, token: &str, event_id: i64) -> Result<std::time::Duration, String> {
        let started = std::time::Instant::now();
        let a = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/events/{event_id}/draw"),
                Some(token),
                None,
            )
            .await?;
        let took = started.elapsed();
        if a.status != 200 {
            return Err(format!("draw: HTTP {} code {}", a.status, a.code));
        }
        Ok(took)
    }

    /// Users `<prefix>_<first>` … in bulk, each with a session (the
    /// server's `POST /load-test/sessions`, on with
    /// `LOTTERY_LOAD_TEST_SESSIONS=true`): (token, user id) in that order.
    pub async fn bulk_sessions(
        &self,
        prefix: &str,
        first: u64,
        count: u32,
    ) -> Result<Vec<(String, i64)>, String> {
        let res = self
            .client
            .post(self.url("/load-test/sessions"))
            .json(&json!({"prefix": prefix, "first": first, "count": count}))
            .send()
            .await
            .map_err(|e| short_error(&e))?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!(
                "POST /load-test/sessions: HTTP {status} code {} (is LOTTERY_LOAD_TEST_SESSIONS=true?)",
                body["code"]
            ));
        }
        body["data"]["sessions"]
            .as_array()
            .ok_or("POST /load-test/sessions: no sessions")?
            .iter()
            .map(|s| match (s["token"].as_str(), s["user_id"].as_i64()) {
                (Some(token), Some(id)) => Ok((token.to_string(), id)),
                _ => Err(format!("POST /load-test/sessions: a bad session {s}")),
            })
            .collect()
    }

    /// A GET's status, its body's bytes as sent (`Accept-Encoding: br,
    /// gzip`; this client does not decompress) and its Content-Encoding.
    pub async fn get_encoded(&self, path: &str) -> Result<(u16, usize, String), String> {
        let res = self
            .client
            .get(self.url(path))
            .header("Accept-Encoding", "br, gzip")
            .send()
            .await
            .map_err(|e| short_error(&e))?;
        let status = res.status().as_u16();
        let encoding = res
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_string();
        let bytes = res.bytes().await.map_err(|e| short_error(&e))?;
        Ok((status, bytes.len(), encoding))
    }

    /// The data of a GET that must answer 200.
    pub async fn get_data(&self, path: &str) -> Result<Value, String> {
        let a = self.call(reqwest::Method::GET, path, None, None).await?;
        if a.status == 200 {
            Ok(a.data)
        } else {
            Err(format!("GET {path}: HTTP {} code {}", a.status, a.code))
        }
    }

    pub async fn event(&self, event_id: i64) -> Result<Value, String> {
        self.get_data(&format!("/api/v1/events/{event_id}")).await
    }

    /// Every participant's user id, through the paged list.
    pub async fn participants(&self, event_id: i64) -> Result<Vec<i64>, String> {
        let mut ids = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let data = self
                .get_data(&format!(
                    "/api/v1/events/{event_id}/participants?limit=100{q}"
                ))
                .await?;
            for item in data["items"].as_array().into_iter().flatten() {
                ids.push(item["user"]["id"].as_i64().unwrap_or(-1));
            }
            match data["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(ids),
            }
        }
    }

    pub async fn fairness(&self, event_id: i64) -> Result<Value, String> {
        self.get_data(&format!("/api/v1/events/{event_id}/fairness"))
            .await
    }
}

/// reqwest's error without its URL (the URL of a login carries no secret,
/// but error lines stay short this way).
fn short_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timeout".into()
    } else if err.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}
