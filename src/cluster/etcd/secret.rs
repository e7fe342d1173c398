//! The hop secret: what proves a forwarded request came from an instance.

use etcd_client::Client;

use super::{create_or_get, first_kv, Membership};
use crate::cluster::directory::Keys;

impl Membership {
    /// The secret every instance proves its forwarded requests with: created
    /// once (random, only if absent), then read by every instance.
    pub(super) async fn read_or_make_hop_secret(
        client: &mut Client,
        keys: &Keys,
    ) -> Result<String, String> {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let fresh = hex::encode(bytes);
        let key = keys.hop_secret();
        let txn = create_or_get(&key, fresh.clone(), None);
        let response = client
            .txn(txn)
            .await
            .map_err(|e| format!("cannot reach etcd: {e}"))?;
        if response.succeeded() {
            return Ok(fresh);
        }
        first_kv(&response)
            .and_then(|kv| kv.value_str().ok().map(str::to_string))
            .ok_or_else(|| "etcd: the hop secret vanished while being read".into())
    }

    /// Constant-time comparison of a hop header with the secret.
    pub fn is_hop(&self, value: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        value.ct_eq(self.hop_secret.as_bytes()).into()
    }

    pub fn hop_secret(&self) -> &str {
        &self.hop_secret
    }
}
