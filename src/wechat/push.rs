//! WeChat's message push (消息推送): what WeChat's servers send to the
//! push URL configured in the mini-program console, here for the verdicts
//! of `wxa/media_check_async` (event `wxa_media_check`). Pure code, no I/O:
//! the signatures, the safe-mode (安全模式) envelope and its AES, and the
//! parsing of a push into what the server acts on.
//!
//! As WeChat documents it:
//! - Message push, its GET check and its safe mode, with the worked
//!   examples the tests below use:
//!   <https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html>
//! - The AES scheme (43-char EncodingAESKey, `AESKey =
//!   Base64_Decode(EncodingAESKey + "=")`, AES-256-CBC, IV = the key's
//!   first 16 bytes, PKCS#7 padding to a 32-byte block):
//!   <https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Technical_Plan.html>
//! - The verdict push (`wxa_media_check`, version 2):
//!   <https://developers.weixin.qq.com/miniprogram/dev/server/API/sec-center/sec-check/api_mediacheckasync.html>
//!
//! Order matters for the caller: check `msg_signature` (token, timestamp,
//! nonce, Encrypt) before decrypting. CBC has no integrity of its own; the
//! signature, keyed by the token, is what tells a push from WeChat apart
//! from a forgery, and checking it first keeps the decryption errors
//! (padding, length) from becoming an oracle for anyone without the token.

use std::borrow::Cow;

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine;
use serde_json::Value;
use sha1::{Digest, Sha1};

type Decryptor = cbc::Decryptor<aes::Aes256>;
type Encryptor = cbc::Encryptor<aes::Aes256>;

/// WeChat pads to a multiple of 32 bytes (K = 32, the key's length, in the
/// docs' PKCS#7 description), not to AES's 16: a pad byte can be 1..=32.
const PAD_BLOCK: usize = 32;

/// 16 random bytes, then the message length as 4 bytes big-endian.
const HEADER_LEN: usize = 20;

/// The most base64 a push's Encrypt may have: a verdict is a few hundred
/// bytes, so anything near this is not WeChat's and is refused before any
/// work is done on it.
const MAX_ENCRYPT_CHARS: usize = 64 * 1024;

/// An EncodingAESKey is 43 characters: 32 bytes in base64 without its
/// padding `=`.
const ENCODING_AES_KEY_LEN: usize = 43;

/// The key is decoded leniently about the 2 bits its 43rd character
/// carries beyond the 256 of the key: WeChat's console draws the key from
/// 62 letters and digits, so 3 keys in 4 have those bits non-zero, which
/// the strict decoder refuses ("invalid last symbol"). The bits are not
/// part of the key either way.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why a push was refused. The messages name the problem and never carry
/// the push's content (which may hold user data) nor the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the encrypted push is not valid base64")]
    BadBase64,
    #[error("the decrypted push has invalid padding")]
    BadPadding,
    #[error("the encrypted push has an impossible length")]
    BadLength,
    #[error("the decrypted push was sealed for another app id")]
    ForeignAppid,
    #[error("the decrypted push is not UTF-8 text")]
    NotUtf8,
    #[error("the push body is not the expected JSON")]
    BadJson,
    #[error("the push body is not the expected XML")]
    BadXml,
    /// A field the push must have is missing or not of its kind; the name
    /// is ours (a constant), never a value from the push.
    #[error("the push has no valid `{0}`")]
    Field(&'static str),
}

/// SHA-1 (lowercase hex) of `token` and `parts`, sorted as strings and
/// concatenated: the `signature` of the GET check and of plain pushes
/// (`parts` = timestamp, nonce) and the `msg_signature` of safe-mode
/// pushes (`parts` = timestamp, nonce, Encrypt). Sorting is by bytes, as
/// the official samples' `sort(..., SORT_STRING)`.
pub fn signature(token: &str, parts: &[&str]) -> String {
    let mut all: Vec<&str> = Vec::with_capacity(parts.len() + 1);
    all.push(token);
    all.extend_from_slice(parts);
    all.sort_unstable();
    let mut hasher = Sha1::new();
    for part in &all {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether `got` (from the query) is `expected_hex` (ours, from
/// [`signature`]), ignoring ASCII case, in time that does not depend on
/// where they differ: a comparison that stops at the first difference
/// would let a forger learn the signature a byte at a time. Lengths are
/// public (40 hex digits), so a length mismatch answers at once.
pub fn signature_matches(expected_hex: &str, got: &str) -> bool {
    let (expected, got) = (expected_hex.as_bytes(), got.as_bytes());
    if expected.is_empty() || expected.len() != got.len() {
        return false;
    }
    let mut diff = 0u8;
    for (a, b) in expected.iter().zip(got) {
        diff |= a.to_ascii_lowercase() ^ b.to_ascii_lowercase();
    }
    // black_box: keep the optimizer from turning the fold into an early
    // exit.
    std::hint::black_box(diff) == 0
}

/// The 32-byte AES key of the push configuration, from its 43-character
/// EncodingAESKey. Its Debug output hides the key.
#[derive(Clone)]
pub struct PushKey {
    key: [u8; 32],
}

impl std::fmt::Debug for PushKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushKey(..)")
    }
}

impl PushKey {
    /// The key of an EncodingAESKey as the console shows it. The error
    /// names what is wrong, never the key (it ends up in startup logs).
    pub fn parse(encoding_aes_key: &str) -> Result<PushKey, String> {
        let chars = encoding_aes_key.chars().count();
        if chars != ENCODING_AES_KEY_LEN {
            return Err(format!(
                "the EncodingAESKey must be {ENCODING_AES_KEY_LEN} characters, not {chars}"
            ));
        }
        if !encoding_aes_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        {
            return Err("the EncodingAESKey has characters outside base64's alphabet".into());
        }
        let key: [u8; 32] = KEY_BASE64
            .decode(format!("{encoding_aes_key}="))
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| "the EncodingAESKey does not decode to a 32-byte key".to_string())?;
        Ok(PushKey { key })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// The message sealed in a safe-mode push's `Encrypt`, if it was
    /// sealed with this key for `appid`. The layout after AES-256-CBC
    /// (IV = key[..16]) and the 32-byte PKCS#7 padding is: 16 random
    /// bytes, the message length (4 bytes big-endian), the message, the
    /// app id. The app id must be ours: a key shared by two apps (or a
    /// push replayed from another) must not pass as ours.
    pub fn decrypt(&self, encrypt_b64: &str, appid: &str) -> Result<String, PushError> {
        if encrypt_b64.len() > MAX_ENCRYPT_CHARS {
            return Err(PushError::BadLength);
        }
        let sealed = STANDARD
            .decode(encrypt_b64.trim())
            .map_err(|_| PushError::BadBase64)?;
        // At least one 32-byte padded block (16 + 4 + an app id), and whole
        // AES blocks.
        if sealed.len() < PAD_BLOCK || sealed.len() % 16 != 0 {
            return Err(PushError::BadLength);
        }
        let clear = Decryptor::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_vec_mut::<NoPadding>(&sealed)
            .map_err(|_| PushError::BadLength)?;
        let body = unpad(&clear)?;
        if body.len() < HEADER_LEN {
            return Err(PushError::BadLength);
        }
        let len_bytes: [u8; 4] = body[16..HEADER_LEN]
            .try_into()
            .map_err(|_| PushError::BadLength)?;
        let msg_len = u32::from_be_bytes(len_bytes) as usize;
        let rest = &body[HEADER_LEN..];
        if msg_len > rest.len() {
            return Err(PushError::BadLength);
        }
        let (msg, sealed_for) = rest.split_at(msg_len);
        if sealed_for != appid.as_bytes() {
            return Err(PushError::ForeignAppid);
        }
        String::from_utf8(msg.to_vec()).map_err(|_| PushError::NotUtf8)
    }

    /// `msg` sealed as WeChat seals a push for `appid` (base64), with the
    /// given 16 random bytes: for tests and the WeChat mock, which must
    /// produce pushes the server accepts (the server itself only decrypts).
    pub fn encrypt(&self, msg: &str, appid: &str, random16: [u8; 16]) -> String {
        let msg_len = u32::try_from(msg.len()).expect("a push message is far shorter than 4 GiB");
        let mut clear = Vec::with_capacity(HEADER_LEN + msg.len() + appid.len() + PAD_BLOCK);
        clear.extend_from_slice(&random16);
        clear.extend_from_slice(&msg_len.to_be_bytes());
        clear.extend_from_slice(msg.as_bytes());
        clear.extend_from_slice(appid.as_bytes());
        // A whole block of padding when already aligned, as PKCS#7 says.
        let pad = PAD_BLOCK - clear.len() % PAD_BLOCK;
        clear.resize(clear.len() + pad, pad as u8);
        let sealed = Encryptor::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_vec_mut::<NoPadding>(&clear);
        STANDARD.encode(sealed)
    }
}

/// `clear` without its PKCS#7 padding (block 32): the last byte says how
/// many bytes to drop, 1..=32, and every one of them must hold that value.
/// All pad bytes are compared, not just the last, so that a decryption
/// with a wrong key or of altered bytes is refused here rather than read
/// as a message.
fn unpad(clear: &[u8]) -> Result<&[u8], PushError> {
    let pad = *clear.last().ok_or(PushError::BadPadding)? as usize;
    if pad == 0 || pad > PAD_BLOCK || pad > clear.len() {
        return Err(PushError::BadPadding);
    }
    let (body, padding) = clear.split_at(clear.len() - pad);
    if padding.iter().any(|&b| b as usize != pad) {
        return Err(PushError::BadPadding);
    }
    Ok(body)
}

/// WeChat's advice on a piece of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    Pass,
    /// Doubtful: WeChat suggests a person looks at it.
    Review,
    Risky,
}

impl Suggest {
    fn parse(s: &str) -> Option<Suggest> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pass" => Some(Suggest::Pass),
            "review" => Some(Suggest::Review),
            "risky" => Some(Suggest::Risky),
            _ => None,
        }
    }
}

/// The verdict of one `media_check_async` request, matched to it by
/// `trace_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaVerdict {
    pub trace_id: String,
    /// `result.suggest`. When `errcode` is not 0 WeChat judged nothing and
    /// usually sends no `result`; this is then [`Suggest::Review`] (not a
    /// judgement: see [`MediaVerdict::is_judged`]).
    pub suggest: Suggest,
    /// `result.label`: 100 normal, 20001 politics, 20002 porn, 20006 crime,
    /// 21000 other (as documented); 0 when there is no result.
    pub label: i64,
    /// 0 when the result is valid; -1008 when WeChat could not download the
    /// media ("该值为-1008时表示下载错误，请检查媒体链接是否有效").
    pub errcode: i64,
}

impl MediaVerdict {
    /// Whether WeChat judged the media: the docs say the result is valid
    /// only when errcode is 0 ("仅当该值为0时，结果有效").
    pub fn is_judged(&self) -> bool {
        self.errcode == 0
    }
}

/// What a push says, as far as this server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    MediaCheck(MediaVerdict),
    /// Any other message or event (the console's `debug_demo`, customer
    /// service messages, ...): acknowledged and ignored.
    Other {
        event: Option<String>,
    },
}

/// The event of a verdict on media.
const MEDIA_CHECK_EVENT: &str = "wxa_media_check";

/// A push body in clear (plain mode, or the message [`PushKey::decrypt`]
/// returned), JSON or XML as the console's 数据格式 says; the format is
/// told by the first character, so a server need not be told which.
pub fn parse_push(body: &str) -> Result<Push, PushError> {
    match Format::of(body)? {
        Format::Json => parse_json_push(body),
        Format::Xml => parse_xml_push(body),
    }
}

/// The `Encrypt` of a safe-mode push body: JSON `{"ToUserName": ...,
/// "Encrypt": ...}` or XML `<xml><ToUserName/><Encrypt/></xml>`.
pub fn parse_envelope(body: &str) -> Result<String, PushError> {
    let encrypt = match Format::of(body)? {
        Format::Json => {
            let value: Value = serde_json::from_str(body).map_err(|_| PushError::BadJson)?;
            value
                .get("Encrypt")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
        Format::Xml => xml_root(body)?
            .into_iter()
            .find(|(name, _)| *name == "Encrypt")
            .map(|(_, raw)| xml_text(raw).into_owned()),
    };
    match encrypt {
        Some(e) if !e.trim().is_empty() => Ok(e),
        _ => Err(PushError::Field("Encrypt")),
    }
}

enum Format {
    Json,
    Xml,
}

impl Format {
    fn of(body: &str) -> Result<Format, PushError> {
        match body.trim_start().as_bytes().first() {
            Some(b'{') => Ok(Format::Json),
            Some(b'<') => Ok(Format::Xml),
            _ => Err(PushError::BadJson),
        }
    }
}

/// An integer WeChat may send as a number or as a string of digits (the
/// docs say number; pushes seen in 2025 carried `"label":"100"`).
fn json_int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_json_push(body: &str) -> Result<Push, PushError> {
    let value: Value = serde_json::from_str(body).map_err(|_| PushError::BadJson)?;
    let object = value.as_object().ok_or(PushError::BadJson)?;
    let event = object.get("Event").and_then(Value::as_str);
    if event != Some(MEDIA_CHECK_EVENT) {
        return Ok(Push::Other {
            event: event.map(str::to_string),
        });
    }
    let trace_id = object
        .get("trace_id")
        .and_then(Value::as_str)
        .ok_or(PushError::Field("trace_id"))?;
    // A missing errcode is read as 0 only if a result is there to judge by;
    // otherwise the verdict refuses below for lack of a result.
    let errcode = match object.get("errcode") {
        None => 0,
        some => json_int(some).ok_or(PushError::Field("errcode"))?,
    };
    let result = object.get("result").and_then(Value::as_object);
    let judgement = result.map(|r| {
        (
            r.get("suggest")
                .and_then(Value::as_str)
                .and_then(Suggest::parse),
            json_int(r.get("label")),
        )
    });
    verdict(trace_id, errcode, judgement)
}

fn parse_xml_push(body: &str) -> Result<Push, PushError> {
    let fields = xml_root(body)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, raw)| xml_text(raw))
    };
    let event = field("Event");
    if event.as_deref() != Some(MEDIA_CHECK_EVENT) {
        return Ok(Push::Other {
            event: event.map(Cow::into_owned),
        });
    }
    let trace_id = field("trace_id").ok_or(PushError::Field("trace_id"))?;
    let errcode = match field("errcode") {
        None => 0,
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| PushError::Field("errcode"))?,
    };
    let judgement = match fields.iter().find(|(n, _)| *n == "result") {
        None => None,
        Some((_, raw)) => {
            let inner = xml_children(raw)?;
            let get = |name: &str| {
                inner
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, raw)| xml_text(raw))
            };
            Some((
                get("suggest").and_then(|s| Suggest::parse(&s)),
                get("label").and_then(|l| l.trim().parse().ok()),
            ))
        }
    };
    verdict(&trace_id, errcode, judgement)
}

/// The verdict from a push's parts; `judgement` is `result`'s (suggest,
/// label) when the push has a `result`.
fn verdict(
    trace_id: &str,
    errcode: i64,
    judgement: Option<(Option<Suggest>, Option<i64>)>,
) -> Result<Push, PushError> {
    let trace_id = trace_id.trim();
    if trace_id.is_empty() {
        return Err(PushError::Field("trace_id"));
    }
    let (suggest, label) = match (errcode, judgement) {
        // A valid verdict must say what it suggests: guessing one would
        // publish (or drop) media WeChat did not judge.
        (0, None) => return Err(PushError::Field("result")),
        (0, Some((None, _))) => return Err(PushError::Field("result.suggest")),
        (0, Some((Some(suggest), label))) => (suggest, label.unwrap_or(0)),
        // Not judged (e.g. -1008, the media could not be downloaded):
        // whatever result came along is not valid.
        (_, _) => (Suggest::Review, 0),
    };
    Ok(Push::MediaCheck(MediaVerdict {
        trace_id: trace_id.to_string(),
        suggest,
        label,
        errcode,
    }))
}

/// The children of the `<xml>` root of a push: (tag, raw inner text).
/// WeChat's pushes are flat (a few tags under `<xml>`, one level more for
/// `<result>` and `<detail>`), so a small reader does; this is not a
/// general XML parser and need not be one.
fn xml_root(body: &str) -> Result<Vec<(&str, &str)>, PushError> {
    let start = body.find("<xml>").ok_or(PushError::BadXml)? + "<xml>".len();
    let end = body.rfind("</xml>").ok_or(PushError::BadXml)?;
    if end < start {
        return Err(PushError::BadXml);
    }
    xml_children(&body[start..end])
}

/// The elements directly inside `content`: a top-level scan, so that the
/// `<errcode>` of a `<detail>` block is not taken for the push's own.
fn xml_children(content: &str) -> Result<Vec<(&str, &str)>, PushError> {
    let mut out = Vec::new();
    let mut rest = content;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        if !rest.starts_with('<') || rest.starts_with("</") {
            return Err(PushError::BadXml);
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            let close = after.find("-->").ok_or(PushError::BadXml)?;
            rest = &after[close + 3..];
            continue;
        }
        let tag_end = rest.find('>').ok_or(PushError::BadXml)?;
        let tag = &rest[1..tag_end];
        if let Some(name) = tag.strip_suffix('/') {
            out.push((name.trim(), ""));
            rest = &rest[tag_end + 1..];
            continue;
        }
        // No attributes in WeChat's pushes; a name is what is left.
        let name = tag.split_whitespace().next().ok_or(PushError::BadXml)?;
        let after_open = &rest[tag_end + 1..];
        let inner_len = closing_tag(after_open, name).ok_or(PushError::BadXml)?;
        out.push((name, &after_open[..inner_len]));
        rest = &after_open[inner_len + name.len() + 3..];
    }
}

/// Where `</name>` starts in `s`, skipping CDATA sections (whose text may
/// hold anything, a `</name>` too).
fn closing_tag(s: &str, name: &str) -> Option<usize> {
    let close = format!("</{name}>");
    let mut i = 0;
    while i < s.len() {
        let here = &s[i..];
        if let Some(after) = here.strip_prefix("<![CDATA[") {
            i += "<![CDATA[".len() + after.find("]]>")? + "]]>".len();
        } else if here.starts_with(&close) {
            return Some(i);
        } else {
            i += here.chars().next()?.len_utf8();
        }
    }
    None
}

/// An element's text: the content of its CDATA section (WeChat wraps its
/// strings in CDATA), or else its text with the five predefined entities
/// decoded.
fn xml_text(raw: &str) -> Cow<'_, str> {
    let trimmed = raw.trim();
    if let Some(inner) = trimmed
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
    {
        return Cow::Borrowed(inner);
    }
    if !trimmed.contains('&') {
        return Cow::Borrowed(trimmed);
    }
    Cow::Owned(
        trimmed
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked examples of the message push page (message-push.html,
    // "发起验证" and "接收消息推送"): Token "AAAAA", EncodingAESKey 43 'A's
    // (a key of 32 zero bytes), app id wxba5fad812f8e6fb9. WeChat's own
    // vectors, not ones we made.
    const DOC_TOKEN: &str = "AAAAA";
    const DOC_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const DOC_APPID: &str = "wxba5fad812f8e6fb9";
    const DOC_ENCRYPT: &str = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
    /// The message of DOC_ENCRYPT, 167 bytes as the page says (msg_len=167);
    /// its random prefix is "a8eedb185eb2fecf".
    const DOC_MSG: &str = r#"{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}"#;

    /// A key as the console makes them: its last character ('G') carries
    /// non-zero bits past the 256 of the key.
    const OTHER_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn doc_key() -> PushKey {
        PushKey::parse(DOC_KEY).unwrap()
    }

    #[test]
    fn the_get_check_signature_of_the_docs() {
        // "发起验证": timestamp 1714036504, nonce 1514711492.
        let sig = signature(DOC_TOKEN, &["1714036504", "1514711492"]);
        assert_eq!(sig, "f464b24fc39322e44b38aa78f5edd27bd1441696");
        // The order of the parts does not matter: they are sorted.
        assert_eq!(signature(DOC_TOKEN, &["1514711492", "1714036504"]), sig);
    }

    #[test]
    fn the_plain_push_signature_of_the_docs() {
        // "消息解密方式为明文模式": timestamp 1714037059, nonce 486452656.
        assert_eq!(
            signature(DOC_TOKEN, &["1714037059", "486452656"]),
            "899cf89e464efb63f54ddac96b0a0a235f53aa78"
        );
    }

    #[test]
    fn the_msg_signatures_of_the_docs() {
        // "消息解密方式为安全模式": the push's msg_signature...
        assert_eq!(
            signature(DOC_TOKEN, &["1714112445", "415670741", DOC_ENCRYPT]),
            "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
        );
        // ...and the one of the encrypted answer.
        let answer = "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==";
        assert_eq!(
            signature(DOC_TOKEN, &["1713424427", "415670741", answer]),
            "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
        );
    }

    #[test]
    fn signatures_compare_whole_and_without_case() {
        let sig = "f464b24fc39322e44b38aa78f5edd27bd1441696";
        assert!(signature_matches(sig, sig));
        assert!(signature_matches(sig, &sig.to_ascii_uppercase()));
        assert!(!signature_matches(
            sig,
            "f464b24fc39322e44b38aa78f5edd27bd1441697"
        ));
        assert!(!signature_matches(
            sig,
            "0464b24fc39322e44b38aa78f5edd27bd1441696"
        ));
        assert!(!signature_matches(sig, &sig[..39]));
        assert!(!signature_matches(sig, ""));
        assert!(!signature_matches("", ""));
    }

    #[test]
    fn the_safe_mode_push_of_the_docs_decrypts() {
        // The 224 encrypted bytes hold 205 clear ones: a pad of 19, which a
        // 16-byte PKCS#7 would refuse. This is the 32-byte block at work.
        assert_eq!(doc_key().decrypt(DOC_ENCRYPT, DOC_APPID).unwrap(), DOC_MSG);
    }

    #[test]
    fn the_encrypted_answer_of_the_docs_is_reproduced() {
        // "回包": random "707722b803182950", msg {"demo_resp":"good luck"}.
        let random: [u8; 16] = *b"707722b803182950";
        assert_eq!(
            doc_key().encrypt(r#"{"demo_resp":"good luck"}"#, DOC_APPID, random),
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
        );
    }

    #[test]
    fn sealing_and_opening_round_trip() {
        let key = PushKey::parse(OTHER_KEY).unwrap();
        // Every length of padding 1..=32 comes up, including a whole block
        // when the clear text is already aligned.
        for n in 0..70 {
            let msg: String = "抽奖x".chars().cycle().take(n).collect();
            let sealed = key.encrypt(&msg, "wx_app", [n as u8; 16]);
            assert_eq!(STANDARD.decode(&sealed).unwrap().len() % PAD_BLOCK, 0);
            assert_eq!(key.decrypt(&sealed, "wx_app").unwrap(), msg);
        }
    }

    #[test]
    fn a_tampered_push_is_refused() {
        let key = doc_key();
        let mut sealed = STANDARD.decode(DOC_ENCRYPT).unwrap();
        // Flipping a bit of the first block flips the same bit of the
        // second clear block: the high byte of the length.
        sealed[0] ^= 0x80;
        assert_eq!(
            key.decrypt(&STANDARD.encode(&sealed), DOC_APPID),
            Err(PushError::BadLength)
        );

        // Altering the last block garbles the padding (or, 1 time in 256,
        // the app id): refused either way.
        let mut sealed = STANDARD.decode(DOC_ENCRYPT).unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        assert!(key.decrypt(&STANDARD.encode(&sealed), DOC_APPID).is_err());

        // Cut short, or not whole blocks.
        let sealed = STANDARD.decode(DOC_ENCRYPT).unwrap();
        assert!(key
            .decrypt(&STANDARD.encode(&sealed[..sealed.len() - 32]), DOC_APPID)
            .is_err());
        assert_eq!(
            key.decrypt(&STANDARD.encode(&sealed[..sealed.len() - 1]), DOC_APPID),
            Err(PushError::BadLength)
        );
        assert_eq!(
            key.decrypt(&STANDARD.encode([0u8; 16]), DOC_APPID),
            Err(PushError::BadLength)
        );
        assert_eq!(
            key.decrypt("not base64!", DOC_APPID),
            Err(PushError::BadBase64)
        );
        assert_eq!(
            key.decrypt(&"A".repeat(MAX_ENCRYPT_CHARS + 4), DOC_APPID),
            Err(PushError::BadLength)
        );

        // Another key does not open it.
        let other = PushKey::parse(OTHER_KEY).unwrap();
        assert!(other.decrypt(DOC_ENCRYPT, DOC_APPID).is_err());
    }

    #[test]
    fn a_push_sealed_for_another_app_is_refused() {
        assert_eq!(
            doc_key().decrypt(DOC_ENCRYPT, "wx_another_app"),
            Err(PushError::ForeignAppid)
        );
        // A prefix of the app id is not the app id.
        assert_eq!(
            doc_key().decrypt(DOC_ENCRYPT, "wxba5fad812f8e6fb"),
            Err(PushError::ForeignAppid)
        );
        let key = PushKey::parse(OTHER_KEY).unwrap();
        let sealed = key.encrypt("{}", "wx_theirs", [7; 16]);
        assert_eq!(
            key.decrypt(&sealed, "wx_ours"),
            Err(PushError::ForeignAppid)
        );
    }

    #[test]
    fn padding_is_checked_byte_by_byte() {
        let mut block = vec![b'x'; 28];
        block.extend_from_slice(&[4, 4, 4, 4]);
        assert_eq!(unpad(&block).unwrap().len(), 28);
        block[29] = 3;
        assert_eq!(unpad(&block), Err(PushError::BadPadding));
        assert_eq!(unpad(&[0u8; 32]), Err(PushError::BadPadding));
        assert_eq!(unpad(&[33u8; 64]), Err(PushError::BadPadding));
        assert_eq!(unpad(&[32u8; 32]).unwrap().len(), 0);
    }

    #[test]
    fn bad_keys_are_named_not_echoed() {
        let short = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let err = PushKey::parse(short).unwrap_err();
        assert!(err.contains("43"), "{err}");
        assert!(!err.contains(short));

        let odd = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%";
        let err = PushKey::parse(odd).unwrap_err();
        assert!(!err.contains(odd));

        assert!(PushKey::parse(&format!("{DOC_KEY}=")).is_err());
        assert!(PushKey::parse(OTHER_KEY).is_ok());
        assert_eq!(format!("{:?}", doc_key()), "PushKey(..)");
    }

    #[test]
    fn the_verdict_push_of_the_docs_in_json() {
        // "异步检测结果推送示例" of api_mediacheckasync.html, as printed.
        let body = r#"{
   "ToUserName": "gh_9df7d78a1234",
   "FromUserName": "o4_t144jTUSEoxydysUA2E234_tc",
   "CreateTime": 1626959646,
   "MsgType": "event",
   "Event": "wxa_media_check",
   "appid": "wx8f16a5be77871234",
   "trace_id": "60f96f1d-3845297a-1976a3ae",
   "version": 2,
   "detail": [{
        "strategy": "content_model",
        "errcode": 0,
        "suggest": "pass",
        "label": 100,
        "prob": 90
   }],
   "errcode": 0,
   "errmsg": "ok",
   "result": {
        "suggest": "pass",
        "label": 100
   }
}"#;
        let expected = MediaVerdict {
            trace_id: "60f96f1d-3845297a-1976a3ae".into(),
            suggest: Suggest::Pass,
            label: 100,
            errcode: 0,
        };
        assert_eq!(
            parse_push(body).unwrap(),
            Push::MediaCheck(expected.clone())
        );
        assert!(expected.is_judged());
    }

    #[test]
    fn the_verdict_push_in_xml() {
        // WeChat's page prints the JSON form only. This XML form is a push
        // as received, from the unit tests of Senparc's WeChat SDK
        // (JeffreySu/WeiXinMPSDK, Senparc.Weixin.WxOpen.Tests,
        // MessageHandlers/MessageHandlerTests.cs), with its prolog.
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<xml>
  <ToUserName><![CDATA[gh_6e306981e699]]></ToUserName>
  <FromUserName><![CDATA[oeaTy0Ej7xM_LexOCWGeJtL4ABoE]]></FromUserName>
  <CreateTime>1659967849</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[wxa_media_check]]></Event>
  <appid><![CDATA[wx12b4f63276b14d4c]]></appid>
  <trace_id><![CDATA[62f11967-2b24d27a-34715985]]></trace_id>
  <version>2</version>
  <detail>
    <strategy><![CDATA[content_model]]></strategy>
    <errcode>0</errcode>
    <suggest><![CDATA[pass]]></suggest>
    <label>100</label>
    <prob>90</prob>
  </detail>
  <errcode>0</errcode>
  <errmsg><![CDATA[ok]]></errmsg>
  <result>
    <suggest><![CDATA[pass]]></suggest>
    <label>100</label>
  </result>
</xml>
"#;
        assert_eq!(
            parse_push(body).unwrap(),
            Push::MediaCheck(MediaVerdict {
                trace_id: "62f11967-2b24d27a-34715985".into(),
                suggest: Suggest::Pass,
                label: 100,
                errcode: 0,
            })
        );
    }

    #[test]
    fn the_detail_block_does_not_stand_for_the_result() {
        // A detail that passes and a result that does not: the result wins,
        // and the detail's errcode is not the push's.
        let body = "<xml><Event><![CDATA[wxa_media_check]]></Event>\
            <trace_id><![CDATA[t-1]]></trace_id>\
            <detail><errcode>5</errcode><suggest><![CDATA[pass]]></suggest><label>100</label></detail>\
            <errcode>0</errcode>\
            <result><suggest><![CDATA[risky]]></suggest><label>20002</label></result></xml>";
        assert_eq!(
            parse_push(body).unwrap(),
            Push::MediaCheck(MediaVerdict {
                trace_id: "t-1".into(),
                suggest: Suggest::Risky,
                label: 20002,
                errcode: 0,
            })
        );
    }

    #[test]
    fn labels_as_strings_and_other_suggestions() {
        // Pushes seen in 2025 carried label as a string (a community
        // report of a wxa_media_check push, developers.weixin.qq.com/community).
        let body = r#"{"MsgType":"event","Event":"wxa_media_check","trace_id":"690b03d2-301f6111-35ffbd44","version":2,"result":{"suggest":"review","label":"20001"},"detail":[{"strategy":"content_model","errcode":0,"suggest":"review","label":"20001","prob":90}]}"#;
        assert_eq!(
            parse_push(body).unwrap(),
            Push::MediaCheck(MediaVerdict {
                trace_id: "690b03d2-301f6111-35ffbd44".into(),
                suggest: Suggest::Review,
                label: 20001,
                errcode: 0,
            })
        );
        let risky = r#"{"Event":"wxa_media_check","trace_id":"t","errcode":"0","result":{"suggest":"RISKY","label":20006}}"#;
        match parse_push(risky).unwrap() {
            Push::MediaCheck(v) => assert_eq!((v.suggest, v.label), (Suggest::Risky, 20006)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_undownloadable_image_is_not_a_judgement() {
        let body = r#"{"Event":"wxa_media_check","trace_id":"t-2","version":2,"errcode":-1008,"errmsg":"download fail"}"#;
        let Push::MediaCheck(v) = parse_push(body).unwrap() else {
            panic!("not a verdict");
        };
        assert_eq!(v.errcode, -1008);
        assert!(!v.is_judged());
        assert_eq!((v.suggest, v.label), (Suggest::Review, 0));
    }

    #[test]
    fn a_verdict_without_a_judgement_is_refused() {
        for body in [
            r#"{"Event":"wxa_media_check","trace_id":"t","errcode":0}"#,
            r#"{"Event":"wxa_media_check","trace_id":"t","errcode":0,"result":{"suggest":"maybe"}}"#,
            r#"{"Event":"wxa_media_check","errcode":0,"result":{"suggest":"pass","label":100}}"#,
            r#"{"Event":"wxa_media_check","trace_id":"  ","result":{"suggest":"pass"}}"#,
            r#"{"Event":"wxa_media_check","trace_id":"t","errcode":"zero","result":{"suggest":"pass"}}"#,
            "<xml><Event>wxa_media_check</Event><trace_id>t</trace_id></xml>",
            "<xml><Event>wxa_media_check</Event><trace_id>t</trace_id><result><label>1</label></result></xml>",
        ] {
            assert!(parse_push(body).is_err(), "{body}");
        }
    }

    #[test]
    fn other_pushes_are_named_and_left_alone() {
        assert_eq!(
            parse_push(DOC_MSG).unwrap(),
            Push::Other {
                event: Some("debug_demo".into())
            }
        );
        assert_eq!(
            parse_push(r#"{"MsgType":"text","Content":"你好"}"#).unwrap(),
            Push::Other { event: None }
        );
        assert_eq!(
            parse_push("<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_enter_tempsession]]></Event></xml>").unwrap(),
            Push::Other {
                event: Some("user_enter_tempsession".into())
            }
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(parse_push(""), Err(PushError::BadJson));
        assert_eq!(parse_push("success"), Err(PushError::BadJson));
        assert_eq!(parse_push("{\"Event\":"), Err(PushError::BadJson));
        assert_eq!(parse_push("[1,2]"), Err(PushError::BadJson));
        assert_eq!(parse_push("<xml><Event>x</Event>"), Err(PushError::BadXml));
        assert_eq!(
            parse_push("<xml><Event>x</Evt></xml>"),
            Err(PushError::BadXml)
        );
        assert_eq!(parse_push("<root/>"), Err(PushError::BadXml));
    }

    #[test]
    fn xml_text_is_read_as_written() {
        assert_eq!(xml_text("<![CDATA[a</b>&c]]>"), "a</b>&c");
        assert_eq!(xml_text("  42 "), "42");
        assert_eq!(xml_text("a &lt;b&gt; &amp;amp;"), "a <b> &amp;");
        // A CDATA holding the closing tag does not end the element early.
        let fields =
            xml_root("<xml><A><![CDATA[x</A>y]]></A><B/><!-- note --><C>3</C></xml>").unwrap();
        assert_eq!(
            fields
                .iter()
                .map(|(n, r)| (*n, xml_text(r).into_owned()))
                .collect::<Vec<_>>(),
            vec![("A", "x</A>y".into()), ("B", "".into()), ("C", "3".into())]
        );
    }

    #[test]
    fn the_safe_mode_envelope_in_json_and_xml() {
        // The body of the docs' safe-mode example.
        let json = format!(r#"{{"ToUserName": "gh_97417a04a28d", "Encrypt": "{DOC_ENCRYPT}"}}"#);
        assert_eq!(parse_envelope(&json).unwrap(), DOC_ENCRYPT);
        // The XML form WeChat uses when the console's 数据格式 is XML (as in
        // the Official Account and third-party platform docs).
        let xml = format!(
            "<xml>\n  <ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n  <Encrypt><![CDATA[{DOC_ENCRYPT}]]></Encrypt>\n</xml>"
        );
        assert_eq!(parse_envelope(&xml).unwrap(), DOC_ENCRYPT);

        assert_eq!(
            parse_envelope(r#"{"ToUserName":"gh"}"#),
            Err(PushError::Field("Encrypt"))
        );
        assert_eq!(
            parse_envelope(r#"{"Encrypt":5}"#),
            Err(PushError::Field("Encrypt"))
        );
        assert_eq!(
            parse_envelope("<xml><Encrypt></Encrypt></xml>"),
            Err(PushError::Field("Encrypt"))
        );
        assert_eq!(parse_envelope("Encrypt=x"), Err(PushError::BadJson));
    }

    #[test]
    fn a_whole_safe_mode_push_as_the_server_takes_it() {
        // Query: timestamp=1714112445&nonce=415670741&encrypt_type=aes
        // &msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3.
        let body = format!(r#"{{"ToUserName":"gh_97417a04a28d","Encrypt":"{DOC_ENCRYPT}"}}"#);
        let encrypt = parse_envelope(&body).unwrap();
        let expected = signature(DOC_TOKEN, &["1714112445", "415670741", &encrypt]);
        assert!(signature_matches(
            &expected,
            "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
        ));
        let msg = doc_key().decrypt(&encrypt, DOC_APPID).unwrap();
        assert_eq!(
            parse_push(&msg).unwrap(),
            Push::Other {
                event: Some("debug_demo".into())
            }
        );

        // And a verdict sealed the same way (what the WeChat mock sends).
        let verdict = r#"{"ToUserName":"gh_97417a04a28d","MsgType":"event","Event":"wxa_media_check","appid":"wxba5fad812f8e6fb9","trace_id":"tr-9","version":2,"errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":20002}}"#;
        let sealed = doc_key().encrypt(verdict, DOC_APPID, [1; 16]);
        let opened = doc_key().decrypt(&sealed, DOC_APPID).unwrap();
        assert_eq!(
            parse_push(&opened).unwrap(),
            Push::MediaCheck(MediaVerdict {
                trace_id: "tr-9".into(),
                suggest: Suggest::Risky,
                label: 20002,
                errcode: 0,
            })
        );
    }

    #[test]
    fn errors_carry_nothing_of_the_push() {
        let secret_content = "o9AgO5Kd5ggOC-bXrbNODIiE3bGY";
        for err in [
            PushError::BadBase64,
            PushError::BadPadding,
            PushError::BadLength,
            PushError::ForeignAppid,
            PushError::NotUtf8,
            PushError::BadJson,
            PushError::BadXml,
            PushError::Field("trace_id"),
        ] {
            let text = err.to_string();
            assert!(!text.is_empty());
            assert!(!text.contains(secret_content));
        }
        // Not even when the push itself is what was malformed.
        let err = parse_push(&format!("{{\"openid\":\"{secret_content}\"")).unwrap_err();
        assert!(!err.to_string().contains(secret_content));
    }
}
