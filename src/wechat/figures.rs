//! Every request to WeChat counted and timed, by API and outcome (issue 27,
//! item 5): the one upstream the service cannot do without, watched from
//! our side (`lottery_wechat_requests_total{api,result}`,
//! `lottery_wechat_request_duration_seconds{api}`; docs/OPERATIONS.md).

use std::time::Instant;

/// One request on its way; its outcome is recorded once, when known (a
/// request whose future is dropped first is recorded as `abandoned`).
pub struct Call {
    api: &'static str,
    started: Instant,
    recorded: bool,
    /// While traces are exported: the call's client span, closed with it.
    span: tracing::Span,
}

impl Call {
    pub fn start(api: &'static str) -> Self {
        let span = crate::telemetry::traces::child(|| {
            tracing::info_span!(
                "wechat",
                otel.name = %format_args!("wechat {api}"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
                wechat.api = api,
                wechat.result = tracing::field::Empty,
            )
        });
        Self {
            api,
            started: Instant::now(),
            recorded: false,
            span,
        }
    }

    /// No answer: a timeout, or no connection.
    pub fn failed(self, err: &reqwest::Error) {
        self.record(if err.is_timeout() {
            "timeout"
        } else {
            "unreachable"
        });
    }

    /// An HTTP status other than 2xx.
    pub fn http_error(self) {
        self.record("http_error");
    }

    /// A body that is not what the API answers.
    pub fn bad_answer(self) {
        self.record("bad_answer");
    }

    /// An answer with its `errcode` (0, or none, is success).
    pub fn answered(self, errcode: i64) {
        self.record(result_of(errcode));
    }

    fn record(mut self, result: &'static str) {
        self.recorded = true;
        self.span.record("wechat.result", result);
        // A refusal of what was asked (an unsubscribed user) is WeChat
        // working; anything else is a failed call.
        if !matches!(result, "ok" | "refused") {
            self.span.record("otel.status_code", "error");
        }
        let api = self.api;
        metrics::counter!("lottery_wechat_requests_total", "api" => api, "result" => result)
            .increment(1);
        metrics::histogram!("lottery_wechat_request_duration_seconds", "api" => api)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.recorded {
            metrics::counter!(
                "lottery_wechat_requests_total",
                "api" => self.api,
                "result" => "abandoned"
            )
            .increment(1);
        }
    }
}

/// The class of an errcode, as the alert and the dashboard tell them
/// apart: WeChat's own trouble (`busy`) and ours (`token_refused`,
/// `limited`) from a refusal of what was asked (`refused`: a risky text,
/// a user who did not subscribe, a code already used).
fn result_of(errcode: i64) -> &'static str {
    match errcode {
        0 => "ok",
        -1 => "busy",
        40001 | 40014 | 42001 => "token_refused",
        // 45009: an API's rate or daily quota; 45011: logins too often.
        45009 | 45011 => "limited",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errcodes_fall_into_their_classes() {
        assert_eq!(super::result_of(0), "ok");
        assert_eq!(super::result_of(-1), "busy");
        assert_eq!(super::result_of(42001), "token_refused");
        assert_eq!(super::result_of(45009), "limited");
        assert_eq!(super::result_of(87014), "refused");
        assert_eq!(super::result_of(43101), "refused");
    }
}
