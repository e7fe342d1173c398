//! Uploaded images and the share code (docs/MEDIA.md): where they are
//! stored, how large an upload may be, how many a user may make, and
//! WeChat's message push that brings the content check's verdicts.

use std::path::PathBuf;

use super::parse::Vars;
use crate::domain::media::ImageLimits;
use crate::secret::Secret;

#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub store: StoreSetting,
    /// A CDN in front of the store: approved images' URLs are this, `/`,
    /// and the object key. Unset: the server's own `/media/…` path.
    pub public_base: Option<String>,
    /// Where clients and WeChat reach this server (`https://api.example.com`):
    /// image URLs are made absolute with it, and WeChat's content check
    /// downloads pending images from it. Unset: URLs are root-relative
    /// (`/media/…`), and with WeChat the check cannot run (refused at start
    /// in prod).
    pub public_url: Option<String>,
    pub limits: ImageLimits,
    /// Uploads one user may make in an hour.
    pub uploads_per_hour: u32,
    /// Bytes one user's stored images may take in all.
    pub quota_bytes: u64,
    /// Images decoded at once (decoding processes beside the server).
    pub workers: usize,
    /// The program run as `<program> decode-images` for each decoding
    /// process (`LOTTERY_MEDIA_DECODER`): this server's own binary unless
    /// set (tests that run the app inside their own binary name it).
    pub decoder: PathBuf,
    /// Signs WeChat's message push (`LOTTERY_WECHAT_PUSH_TOKEN`).
    pub push_token: Option<Secret>,
    /// The push's EncodingAESKey, for safe mode.
    pub push_aes_key: Option<Secret>,
    pub share: ShareSettings,
}

/// Where images and share codes are kept.
#[derive(Clone, Debug)]
pub enum StoreSetting {
    /// A directory of this machine (the embedded default).
    Fs(PathBuf),
    /// Any S3-compatible store.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        access_key: Option<String>,
        secret_key: Option<Secret>,
    },
}

/// The share code's `wxa/getwxacodeunlimit` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareSettings {
    /// The mini-program page the code opens (no leading `/`).
    pub page: String,
    /// WeChat checks that the page exists in the published version.
    pub check_path: bool,
    /// `release`, `trial` or `develop`.
    pub env_version: String,
}

/// The default page: the one result messages open.
pub const DEFAULT_SHARE_PAGE: &str = "pages/event/index";

/// `default_dir`: where the embedded default keeps images (beside the
/// SQLite file).
pub(super) fn media_settings(vars: &Vars, default_dir: PathBuf) -> Result<MediaSettings, String> {
    let store = match vars.get("LOTTERY_MEDIA_STORE") {
        None => StoreSetting::Fs(default_dir),
        Some(url) => store_setting(vars, &url)?,
    };
    if !matches!(store, StoreSetting::S3 { .. }) {
        for key in [
            "LOTTERY_S3_ENDPOINT",
            "LOTTERY_S3_REGION",
            "LOTTERY_S3_ACCESS_KEY",
            "LOTTERY_S3_SECRET_KEY",
        ] {
            if vars.get(key).is_some() {
                return Err(format!("{key} is for an s3:// LOTTERY_MEDIA_STORE"));
            }
        }
    }
    let public_base = vars
        .get("LOTTERY_MEDIA_PUBLIC_BASE")
        .map(|base| web_base("LOTTERY_MEDIA_PUBLIC_BASE", &base))
        .transpose()?;
    let public_url = vars
        .get("LOTTERY_PUBLIC_URL")
        .map(|base| web_base("LOTTERY_PUBLIC_URL", &base))
        .transpose()?;
    let limits = ImageLimits {
        max_bytes: vars.number("LOTTERY_MEDIA_MAX_KB", 10 * 1024, 64..=50 * 1024)? * 1024,
        max_side: vars.number("LOTTERY_MEDIA_MAX_SIDE", 8192, 320..=20_000)? as u32,
        max_pixels: vars.number(
            "LOTTERY_MEDIA_MAX_PIXELS",
            40_000_000,
            100_000..=100_000_000,
        )?,
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let push_aes_key = vars.get("LOTTERY_WECHAT_PUSH_AES_KEY").map(Secret::new);
    if let Some(key) = &push_aes_key {
        // WeChat's EncodingAESKey: 43 characters of base64 (docs/MEDIA.md).
        if key.expose().len() != 43 {
            return Err(format!(
                "LOTTERY_WECHAT_PUSH_AES_KEY must be the 43-character EncodingAESKey, got {} characters",
                key.expose().len()
            ));
        }
    }
    let push_token = vars.get("LOTTERY_WECHAT_PUSH_TOKEN").map(Secret::new);
    if push_aes_key.is_some() && push_token.is_none() {
        return Err(
            "LOTTERY_WECHAT_PUSH_AES_KEY needs LOTTERY_WECHAT_PUSH_TOKEN (safe mode is signed too)"
                .into(),
        );
    }
    let env_version = vars
        .get("LOTTERY_WECHAT_SHARE_ENV_VERSION")
        .unwrap_or_else(|| "release".into());
    if !["release", "trial", "develop"].contains(&env_version.as_str()) {
        return Err(format!(
            "LOTTERY_WECHAT_SHARE_ENV_VERSION must be release, trial or develop, got {env_version:?}"
        ));
    }
    let page = vars
        .get("LOTTERY_WECHAT_SHARE_PAGE")
        .unwrap_or_else(|| DEFAULT_SHARE_PAGE.into());
    if page.starts_with('/') || page.contains('?') || page.len() > 128 {
        return Err(format!(
            "LOTTERY_WECHAT_SHARE_PAGE is a page path like {DEFAULT_SHARE_PAGE} (no leading / and no query), got {page:?}"
        ));
    }
    let check_path = match vars.get("LOTTERY_WECHAT_SHARE_CHECK_PATH").as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(format!(
                "LOTTERY_WECHAT_SHARE_CHECK_PATH must be true or false, got {other:?}"
            ))
        }
    };
    Ok(MediaSettings {
        store,
        public_base,
        public_url,
        limits,
        uploads_per_hour: vars.number("LOTTERY_MEDIA_UPLOADS_PER_HOUR", 60, 1..=100_000)? as u32,
        quota_bytes: vars.number("LOTTERY_MEDIA_QUOTA_MB", 200, 1..=1 << 20)? << 20,
        workers: vars.number("LOTTERY_MEDIA_WORKERS", cores.div_ceil(2), 1..=256)? as usize,
        decoder: match vars.get("LOTTERY_MEDIA_DECODER") {
            Some(path) => PathBuf::from(path),
            // The running program itself, even if its file was replaced
            // by a deploy since it started: Linux keeps /proc/self/exe on
            // the file it started from.
            None if cfg!(target_os = "linux") => PathBuf::from("/proc/self/exe"),
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find this program's file for its decoders: {e}"))?,
        },
        push_token,
        push_aes_key,
        share: ShareSettings {
            page,
            check_path,
            env_version,
        },
    })
}

fn store_setting(vars: &Vars, url: &str) -> Result<StoreSetting, String> {
    if let Some(dir) = url.strip_prefix("fs://") {
        if dir.is_empty() {
            return Err("LOTTERY_MEDIA_STORE: fs:// needs a directory, e.g. fs://media".into());
        }
        return Ok(StoreSetting::Fs(PathBuf::from(dir)));
    }
    let Some(bucket) = url.strip_prefix("s3://") else {
        return Err(format!(
            "LOTTERY_MEDIA_STORE must be fs://<dir> or s3://<bucket>, got {url:?}"
        ));
    };
    // S3's bucket naming rules, which every compatible store follows.
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid {
        return Err(format!(
            "LOTTERY_MEDIA_STORE: {bucket:?} is not a bucket name (3 to 63 of a-z, 0-9, - and .)"
        ));
    }
    let endpoint = vars
        .get("LOTTERY_S3_ENDPOINT")
        .map(|e| web_base("LOTTERY_S3_ENDPOINT", &e))
        .transpose()?;
    let access_key = vars.get("LOTTERY_S3_ACCESS_KEY");
    let secret_key = vars.get("LOTTERY_S3_SECRET_KEY").map(Secret::new);
    if access_key.is_some() != secret_key.is_some() {
        return Err("LOTTERY_S3_ACCESS_KEY and LOTTERY_S3_SECRET_KEY go together".into());
    }
    Ok(StoreSetting::S3 {
        bucket: bucket.to_string(),
        endpoint,
        region: vars
            .get("LOTTERY_S3_REGION")
            .unwrap_or_else(|| "us-east-1".into()),
        access_key,
        secret_key,
    })
}

/// An `http(s)://host[:port][/path]` base, without its trailing `/`.
fn web_base(key: &str, value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !value.contains(char::is_whitespace)
                && !value.contains(['?', '#']) =>
        {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(format!(
            "{key} must be an http:// or https:// URL like https://cdn.example.com, got {value:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<MediaSettings, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        media_settings(&Vars::new(&map), PathBuf::from("db.sqlite.media"))
    }

    #[test]
    fn the_default_is_a_directory_beside_the_database() {
        let s = settings(&[]).unwrap();
        assert!(
            matches!(&s.store, StoreSetting::Fs(dir) if dir == &PathBuf::from("db.sqlite.media"))
        );
        assert_eq!(s.limits.max_bytes, 10 << 20);
        assert_eq!(s.share.page, DEFAULT_SHARE_PAGE);
        assert!(s.public_base.is_none());
    }

    #[test]
    fn s3_takes_its_endpoint_and_keys() {
        let s = settings(&[
            ("LOTTERY_MEDIA_STORE", "s3://lottery-images"),
            ("LOTTERY_S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("LOTTERY_S3_ACCESS_KEY", "ak"),
            ("LOTTERY_S3_SECRET_KEY", "sk"),
            ("LOTTERY_MEDIA_PUBLIC_BASE", "https://cdn.example.com/"),
        ])
        .unwrap();
        match s.store {
            StoreSetting::S3 {
                bucket, endpoint, ..
            } => {
                assert_eq!(bucket, "lottery-images");
                assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:9000"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.public_base.as_deref(), Some("https://cdn.example.com"));
    }

    #[test]
    fn mistakes_are_named() {
        for (pairs, key) in [
            (
                vec![("LOTTERY_MEDIA_STORE", "ftp://x")],
                "LOTTERY_MEDIA_STORE",
            ),
            (
                vec![("LOTTERY_MEDIA_STORE", "s3://Bad_Bucket")],
                "LOTTERY_MEDIA_STORE",
            ),
            (
                vec![("LOTTERY_S3_ENDPOINT", "http://x")],
                "LOTTERY_S3_ENDPOINT",
            ),
            (
                vec![
                    ("LOTTERY_MEDIA_STORE", "s3://b1b"),
                    ("LOTTERY_S3_ACCESS_KEY", "a"),
                ],
                "LOTTERY_S3_SECRET_KEY",
            ),
            (
                vec![("LOTTERY_MEDIA_PUBLIC_BASE", "cdn.example.com")],
                "LOTTERY_MEDIA_PUBLIC_BASE",
            ),
            (
                vec![("LOTTERY_WECHAT_PUSH_AES_KEY", "short")],
                "LOTTERY_WECHAT_PUSH_AES_KEY",
            ),
            (
                vec![("LOTTERY_WECHAT_SHARE_PAGE", "/pages/x")],
                "LOTTERY_WECHAT_SHARE_PAGE",
            ),
            (
                vec![("LOTTERY_WECHAT_SHARE_ENV_VERSION", "beta")],
                "LOTTERY_WECHAT_SHARE_ENV_VERSION",
            ),
            (vec![("LOTTERY_MEDIA_MAX_KB", "1")], "LOTTERY_MEDIA_MAX_KB"),
        ] {
            let err = settings(&pairs).unwrap_err();
            assert!(err.contains(key), "{pairs:?}: {err}");
        }
    }
}
