//! `lottery healthcheck`: asks this host's server for `/healthz` and exits
//! 0 when it answers 200, 1 otherwise, for a container's `HEALTHCHECK`
//! (the runtime image has no curl). The address is `LOTTERY_BIND`'s, as
//! the server reads it (the environment over `LOTTERY_CONFIG`'s file); a
//! wildcard bind is asked on loopback. HTTPS when `LOTTERY_TLS_CERT` is
//! set (the server's own certificate, not checked: the request never
//! leaves the host).

use std::process::ExitCode;
use std::time::Duration;

pub const ARG: &str = "healthcheck";

pub fn run() -> ExitCode {
    let settings = match crate::config::Config::raw_settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("healthcheck: {err}");
            return ExitCode::FAILURE;
        }
    };
    let setting = |key: &str| settings.get(key).filter(|v| !v.is_empty()).cloned();
    let bind = setting("LOTTERY_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
    // An address (a wildcard one asked on loopback) or a host name.
    let (host, port) = match bind.parse::<std::net::SocketAddr>() {
        Ok(addr) => {
            let host = match addr.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
                ip if ip.is_unspecified() => "[::1]".to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            (host, addr.port())
        }
        Err(_) => match bind.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) => (host.to_string(), port),
            _ => {
                eprintln!("healthcheck: LOTTERY_BIND has no port: {bind}");
                return ExitCode::FAILURE;
            }
        },
    };
    let tls = setting("LOTTERY_TLS_CERT").is_some();
    let url = format!(
        "{}://{host}:{port}/healthz",
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
