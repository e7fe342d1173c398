use std::process::ExitCode;

use lottery::config::Config;
use lottery::startup::Application;
use lottery::telemetry;

#[actix_web::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("lottery: configuration: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_tracing(config.log_format);
    let bind = config.bind.clone();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("lottery: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%bind, port = app.port(), "lottery is listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lottery: {err}");
            ExitCode::FAILURE
        }
    }
}
