//! The hop secret: what proves a forwarded request came from an instance.
//! It is `LOTTERY_CLUSTER_SECRET`, given to every instance by the
//! deployment, never kept in etcd (issue 24, finding 4: anyone who could
//! read etcd could read it there).

use etcd_client::Client;

use super::Membership;
use crate::cluster::directory::Keys;

impl Membership {
    /// Deletes the secret versions before issue 24 kept in etcd, so an
    /// upgraded cluster does not leave it readable there.
    pub(super) async fn delete_old_hop_secret(client: &mut Client, keys: &Keys) {
        if let Err(err) = client.delete(keys.old_hop_secret(), None).await {
            tracing::warn!(error = %err, "could not delete the old hop secret from etcd");
        }
    }

    /// Constant-time comparison of a hop header with the secret.
    pub fn is_hop(&self, value: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        value.ct_eq(self.hop_secret.expose().as_bytes()).into()
    }

    pub fn hop_secret(&self) -> &str {
        self.hop_secret.expose()
    }
}
