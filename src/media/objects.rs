//! The media store: a directory (`fs://`, the embedded default) or any
//! S3-compatible bucket (`s3://`), through Apache Arrow's `object_store`,
//! so both go through one interface and the same tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, PutPayload};

use crate::config::StoreSetting;
use crate::error::{AppError, AppResult};

/// One call to the store: an upload's answer waits for it, so it is short.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// `fs` or `s3`, for metrics and logs.
    kind: &'static str,
}

impl Objects {
    pub fn open(setting: &StoreSetting) -> Result<Self, String> {
        match setting {
            StoreSetting::Fs(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    format!(
                        "LOTTERY_MEDIA_STORE: cannot make the directory {}: {e}",
                        dir.display()
                    )
                })?;
                let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
                    format!("LOTTERY_MEDIA_STORE: cannot use {}: {e}", dir.display())
                })?;
                Ok(Self {
                    store: Arc::new(store),
                    kind: "fs",
                })
            }
            StoreSetting::S3 {
                bucket,
                endpoint,
                region,
                access_key,
                secret_key,
            } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(STORE_TIMEOUT)
                            .with_connect_timeout(Duration::from_secs(3)),
                    );
                if let Some(endpoint) = endpoint {
                    // A store of our own (MinIO, a local test server) is
                    // addressed by path and may be plain HTTP; the clouds'
                    // S3-compatible endpoints (COS, OSS) take either.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(access), Some(secret)) = (access_key, secret_key) {
                    builder = builder
                        .with_access_key_id(access)
                        .with_secret_access_key(secret.expose());
                }
                let store = builder.build().map_err(|e| {
                    format!("LOTTERY_MEDIA_STORE: cannot use the bucket {bucket}: {e}")
                })?;
                Ok(Self {
                    store: Arc::new(store),
                    kind: "s3",
                })
            }
        }
    }

    /// Stores `bytes` at `key`, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> AppResult<()> {
        let started = Instant::now();
        let done = tokio::time::timeout(
            STORE_TIMEOUT,
            self.store.put(&Path::from(key), PutPayload::from(bytes)),
        )
        .await;
        self.observe("put", started, &done);
        match done {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(self.unavailable("put", &err.to_string())),
            Err(_) => Err(self.unavailable("put", "timed out")),
        }
    }

    /// The object at `key`, or None if there is none.
    pub async fn get(&self, key: &str) -> AppResult<Option<Bytes>> {
        let started = Instant::now();
        let done = tokio::time::timeout(STORE_TIMEOUT, async {
            match self.store.get(&Path::from(key)).await {
                Ok(got) => got.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(err),
            }
        })
        .await;
        self.observe("get", started, &done);
        match done {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(err)) => Err(self.unavailable("get", &err.to_string())),
            Err(_) => Err(self.unavailable("get", "timed out")),
        }
    }

    /// Copies the object at `from` to `to` inside the store (S3's
    /// CopyObject: the bytes do not pass through this server).
    pub async fn copy(&self, from: &str, to: &str) -> AppResult<()> {
        let started = Instant::now();
        let done = tokio::time::timeout(
            STORE_TIMEOUT,
            self.store.copy(&Path::from(from), &Path::from(to)),
        )
        .await;
        self.observe("copy", started, &done);
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(self.unavailable("copy", &err.to_string())),
            Err(_) => Err(self.unavailable("copy", "timed out")),
        }
    }

    /// Whether there is an object at `key`.
    pub async fn exists(&self, key: &str) -> AppResult<bool> {
        let started = Instant::now();
        let done = tokio::time::timeout(STORE_TIMEOUT, self.store.head(&Path::from(key))).await;
        self.observe("head", started, &done);
        match done {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Ok(Err(err)) => Err(self.unavailable("head", &err.to_string())),
            Err(_) => Err(self.unavailable("head", "timed out")),
        }
    }

    /// Deletes the object at `key`; one that is not there is no error.
    pub async fn delete(&self, key: &str) -> AppResult<()> {
        let started = Instant::now();
        let done = tokio::time::timeout(STORE_TIMEOUT, self.store.delete(&Path::from(key))).await;
        self.observe("delete", started, &done);
        match done {
            Ok(Ok(())) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(err)) => Err(self.unavailable("delete", &err.to_string())),
            Err(_) => Err(self.unavailable("delete", "timed out")),
        }
    }

    fn observe<T, E>(
        &self,
        op: &'static str,
        started: Instant,
        done: &Result<Result<T, E>, tokio::time::error::Elapsed>,
    ) {
        let result = match done {
            Ok(Ok(_)) => "ok",
            _ => "error",
        };
        metrics::histogram!("lottery_media_store_duration_seconds", "store" => self.kind, "op" => op, "result" => result)
            .record(started.elapsed().as_secs_f64());
    }

    fn unavailable(&self, op: &str, detail: &str) -> AppError {
        tracing::warn!(
            store = self.kind,
            op,
            error = detail,
            "media store call failed"
        );
        AppError::Unavailable("the image store is unavailable; try again shortly".into())
    }
}
