//! What the log tests share (each is its own test binary, because each
//! installs the process-wide log subscriber): a writer that keeps what the
//! subscriber writes, and the app on a fresh SQLite file.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use lottery::config::Config;
use lottery::startup::Application;

/// The log's bytes, kept for the test to read.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Settings for an app on port 0 and a fresh SQLite file named after
/// `name`, with `extra`.
pub fn settings(name: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let database = format!(
        "sqlite://{}/{name}-{}.db",
        std::env::temp_dir().display(),
        rand::random::<u64>()
    );
    [
        ("LOTTERY_BIND", "127.0.0.1:0"),
        ("LOTTERY_DATABASE_URL", &database),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Starts the app; its base URL.
pub async fn start(config: Config) -> String {
    let app = Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    base
}
