//! WeChat's open data: what the mini-program hands over encrypted, here a
//! group proof from `wx.getGroupEnterInfo` (its `openGId`). As WeChat
//! documents it ("开放数据校验与解密", signature.html): the cipher is
//! AES-128-CBC with PKCS#7 padding, the key is Base64_Decode(session_key)
//! (16 bytes, the session_key of the user's current login), the IV is
//! Base64_Decode(iv) as the API returned it, and the clear text is JSON
//! with a `watermark.appid` that must be this mini-program's. Any failure
//! (bad base64, bad padding, not JSON, another app's data, a session_key
//! that changed since) is the same answer to the caller: no proof.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

type Decryptor = cbc::Decryptor<aes::Aes128>;
type Encryptor = cbc::Encryptor<aes::Aes128>;

/// The most encrypted bytes a group proof is allowed (a real one is about
/// 200): a larger one is refused before any decryption.
const MAX_ENCRYPTED_CHARS: usize = 4096;

/// The app id dev logins' data carries (no WeChat app configured).
pub const DEV_APPID: &str = "wx_dev_lottery";

/// Why open data did not open. Carries nothing of the data.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    #[error("the session has no WeChat session_key")]
    NoSessionKey,
    #[error("encrypted_data or iv is not the expected base64")]
    Malformed,
    #[error("it does not decrypt with this session's key")]
    WrongKey,
    #[error("it was issued for another mini-program")]
    ForeignApp,
}

#[derive(Deserialize)]
struct Watermark {
    appid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInfo {
    open_g_id: String,
    watermark: Watermark,
}

/// The clear bytes of open data.
pub fn decrypt(
    session_key: &Secret,
    encrypted_data: &str,
    iv: &str,
) -> Result<Vec<u8>, OpenDataError> {
    if encrypted_data.len() > MAX_ENCRYPTED_CHARS {
        return Err(OpenDataError::Malformed);
    }
    let key: [u8; 16] = STANDARD
        .decode(session_key.expose())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(OpenDataError::WrongKey)?;
    let iv: [u8; 16] = STANDARD
        .decode(iv)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(OpenDataError::Malformed)?;
    let data = STANDARD
        .decode(encrypted_data)
        .map_err(|_| OpenDataError::Malformed)?;
    Decryptor::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&data)
        .map_err(|_| OpenDataError::WrongKey)
}

/// The group (`openGId`) a group proof names, if it opens with the
/// session's key and was issued for `appid`.
pub fn group_id(
    session_key: Option<&Secret>,
    appid: &str,
    encrypted_data: &str,
    iv: &str,
) -> Result<String, OpenDataError> {
    let key = session_key.ok_or(OpenDataError::NoSessionKey)?;
    let clear = decrypt(key, encrypted_data, iv)?;
    // Wrong padding is not the only sign of a wrong key: a lucky last
    // byte decrypts to noise, which is not this JSON.
    let info: GroupInfo = serde_json::from_slice(&clear).map_err(|_| OpenDataError::WrongKey)?;
    if info.watermark.appid != appid || info.open_g_id.is_empty() || info.open_g_id.len() > 128 {
        return Err(OpenDataError::ForeignApp);
    }
    Ok(info.open_g_id)
}

/// The session_key a dev login is given (docs/LOGIN.md, "Dev login"):
/// Base64(first 16 bytes of SHA-256("lottery dev session key:" ‖ name)),
/// so that tests and the load tools can make group proofs for dev users.
pub fn dev_session_key(name: &str) -> Secret {
    let digest = Sha256::digest(format!("lottery dev session key:{name}").as_bytes());
    Secret::new(STANDARD.encode(&digest[..16]))
}

/// Encrypts open data as WeChat does (for tests, the WeChat mock and the
/// load tools; the server itself only decrypts): (encrypted_data, iv).
pub fn encrypt(session_key: &Secret, iv: [u8; 16], clear: &[u8]) -> Option<(String, String)> {
    let key: [u8; 16] = STANDARD
        .decode(session_key.expose())
        .ok()?
        .try_into()
        .ok()?;
    let sealed = Encryptor::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(clear);
    Some((STANDARD.encode(sealed), STANDARD.encode(iv)))
}

/// A group proof for `opengid` as `wx.getGroupEnterInfo` would hand it to
/// a user with `session_key` in the app `appid` (tests and load tools).
pub fn group_proof(session_key: &Secret, appid: &str, opengid: &str) -> (String, String) {
    let clear = serde_json::json!({
        "openGId": opengid,
        "watermark": {"appid": appid, "timestamp": chrono::Utc::now().timestamp()},
    });
    let iv: [u8; 16] = rand::random();
    encrypt(session_key, iv, clear.to_string().as_bytes()).expect("a dev session key is 16 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeChat's own sample (the aes-sample demo of signature.html): this
    /// session_key, iv and encrypted_data decrypt to a user record of the
    /// app wx4f4bc4dec97d474b. A real vector, not one we made.
    const SAMPLE_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const SAMPLE_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const SAMPLE_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";

    #[test]
    fn wechats_sample_decrypts() {
        let clear = decrypt(&Secret::new(SAMPLE_KEY), SAMPLE_DATA, SAMPLE_IV).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&clear).unwrap();
        assert_eq!(json["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert_eq!(json["watermark"]["appid"], "wx4f4bc4dec97d474b");
        // Not a group proof: no openGId, so no group.
        assert_eq!(
            group_id(
                Some(&Secret::new(SAMPLE_KEY)),
                "wx4f4bc4dec97d474b",
                SAMPLE_DATA,
                SAMPLE_IV
            ),
            Err(OpenDataError::WrongKey)
        );
    }

    #[test]
    fn a_proof_opens_only_with_its_key_for_its_app() {
        let key = dev_session_key("alice");
        let (data, iv) = group_proof(&key, DEV_APPID, "tG1234");
        assert_eq!(
            group_id(Some(&key), DEV_APPID, &data, &iv).as_deref(),
            Ok("tG1234")
        );
        assert_eq!(
            group_id(Some(&dev_session_key("bob")), DEV_APPID, &data, &iv),
            Err(OpenDataError::WrongKey),
            "another session's key"
        );
        assert_eq!(
            group_id(Some(&key), "wx_other", &data, &iv),
            Err(OpenDataError::ForeignApp)
        );
        assert_eq!(
            group_id(None, DEV_APPID, &data, &iv),
            Err(OpenDataError::NoSessionKey)
        );
        for (data, iv) in [
            ("not base64!", iv.as_str()),
            (data.as_str(), "AAAA"),
            ("AAAAAAAAAAAAAAAAAAAAAA==", iv.as_str()),
        ] {
            assert!(group_id(Some(&key), DEV_APPID, data, iv).is_err());
        }
        assert_eq!(
            group_id(Some(&key), DEV_APPID, &"A".repeat(5000), &iv),
            Err(OpenDataError::Malformed)
        );
        // A dev key is a WeChat-shaped one: 16 bytes in base64.
        assert_eq!(STANDARD.decode(key.expose()).unwrap().len(), 16);
        assert_eq!(dev_session_key("alice").expose(), key.expose());
    }
}
