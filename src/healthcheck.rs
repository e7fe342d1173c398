//! `lottery healthcheck`: asks this host's server for `/healthz` and exits
//! 0 when it answers 200, 1 otherwise, for a container's `HEALTHCHECK`
//! (the runtime image has no curl). The address is `LOTTERY_BIND`'s port
//! on loopback (a wildcard bind is reached there too), over HTTPS when
//! `LOTTERY_TLS_CERT` is set (the server's own certificate, not checked:
//! the request never leaves the host).

use std::process::ExitCode;
use std::time::Duration;

pub const ARG: &str = "healthcheck";

pub fn run() -> ExitCode {
    let bind = std::env::var("LOTTERY_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let Some(port) = bind.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("healthcheck: LOTTERY_BIND has no port: {bind}");
        return ExitCode::FAILURE;
    };
    let tls = std::env::var_os("LOTTERY_TLS_CERT").is_some_and(|v| !v.is_empty());
    let url = format!(
        "{}://127.0.0.1:{port}/healthz",
        if tls { "https" } else { "http" }
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("healthcheck: {err}");
            return ExitCode::FAILURE;
        }
    };
    let asked = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .danger_accept_invalid_certs(true)
            .build()?
            .get(&url)
            .send()
            .await
    });
    match asked {
        Ok(answer) if answer.status().is_success() => ExitCode::SUCCESS,
        Ok(answer) => {
            eprintln!("healthcheck: {url} answered {}", answer.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("healthcheck: {url}: {err}");
            ExitCode::FAILURE
        }
    }
}
