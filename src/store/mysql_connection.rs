//! How a MySQL connection is made. Without TLS settings, as diesel-async
//! makes one from the URL (whose `?require_ssl=true` also turns TLS on,
//! against the driver's built-in public roots). With them
//! (`LOTTERY_DATABASE_CA`, `_CLIENT_CERT`, `_CLIENT_KEY`), the driver's
//! options are built here with the same settings diesel-async uses (no
//! driver statement cache, affected rows counted as found rows, which the
//! conditional updates rely on) plus TLS: required, the server's
//! certificate checked against the given CA only and its name against
//! the URL's host, and the client certificate when the server asks.

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use mysql_async::{ClientIdentity, Opts, OptsBuilder, SslOpts};

use crate::tls::ClientTls;

pub async fn establish(
    url: &str,
    tls: Option<&ClientTls>,
) -> ConnectionResult<AsyncMysqlConnection> {
    let Some(tls) = tls else {
        return AsyncMysqlConnection::establish(url).await;
    };
    let opts =
        Opts::from_url(url).map_err(|e| ConnectionError::InvalidConnectionUrl(e.to_string()))?;
    let mut ssl = SslOpts::default();
    if let Some(ca) = &tls.ca {
        ssl = ssl
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let Some(identity) = &tls.identity {
        ssl = ssl.with_client_identity(Some(ClientIdentity::new(
            identity.cert.clone().into(),
            identity.key.clone().into(),
        )));
    }
    let builder = OptsBuilder::from_opts(opts)
        .stmt_cache_size(0)
        .client_found_rows(true)
        .ssl_opts(ssl);
    let conn = mysql_async::Conn::new(builder)
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    AsyncMysqlConnection::try_from(conn).await
}
