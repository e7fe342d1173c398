use std::process::ExitCode;

use lottery::config::Config;
use lottery::startup::Application;
use lottery::telemetry;

fn main() -> ExitCode {
    // The server starts its image decoders as `lottery decode-images`
    // (src/media/decoder_child.rs): they need no settings and no runtime.
    if std::env::args_os().nth(1).as_deref() == Some(lottery::media::decoder_child::ARG.as_ref()) {
        return lottery::media::decoder_child::run();
    }
    // A container's health probe (deploy/Dockerfile): no server started.
    if std::env::args_os().nth(1).as_deref() == Some(lottery::healthcheck::ARG.as_ref()) {
        return lottery::healthcheck::run();
    }
    not_dumpable();
    actix_web::rt::System::new().block_on(serve())
}

/// Keeps the server's memory and environment (database URL, keys) from
/// other processes of its user, its image decoders included: /proc/<pid>
/// of a process that is not dumpable belongs to root (`proc(5)`), and no
/// core file holds its secrets.
#[cfg(target_os = "linux")]
fn not_dumpable() {
    // SAFETY: prctl with integer arguments changes only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn not_dumpable() {}

async fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("lottery: configuration: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = telemetry::init_tracing(config.log_format) {
        eprintln!("lottery: traces: {err}");
        return ExitCode::FAILURE;
    }
    let bind = config.bind.clone();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("lottery: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%bind, port = app.port(), "lottery is listening");
    let stop = app.stop_signal();
    actix_web::rt::spawn(async move {
        stop_requested().await;
        stop.stop();
        // A second signal means now.
        stop_requested().await;
        eprintln!("lottery: second signal, exiting at once");
        std::process::exit(130);
    });
    let stopped = app.run_until_stopped().await;
    // The spans of the last requests and of the drain, before the exit.
    telemetry::traces::flush();
    match stopped {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lottery: {err}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (an orchestrator's stop) or SIGINT (Ctrl-C).
#[cfg(unix)]
async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "no SIGTERM handler; Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Ctrl-C (Windows' console interrupt): the one stop a desktop sends.
#[cfg(not(unix))]
async fn stop_requested() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("Ctrl-C");
}
