//! A bb8 pool of diesel-async connections that drops a connection once a
//! query on it found the database unreachable. diesel-async's own manager
//! can only tell by running `SELECT 1` on every checkout, one more round
//! trip per group commit and per read; here the connection that failed is
//! marked broken instead, and bb8 replaces it.

use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};

pub struct Manager<C: 'static>(pub AsyncDieselConnectionManager<C>);

pub struct Tracked<C> {
    pub conn: C,
    pub broken: bool,
}

impl<C> bb8::ManageConnection for Manager<C>
where
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    type Connection = Tracked<C>;
    type Error = PoolError;

    async fn connect(&self) -> Result<Tracked<C>, PoolError> {
        Ok(Tracked {
            conn: self.0.connect().await?,
            broken: false,
        })
    }

    async fn is_valid(&self, tracked: &mut Tracked<C>) -> Result<(), PoolError> {
        self.0.is_valid(&mut tracked.conn).await
    }

    fn has_broken(&self, tracked: &mut Tracked<C>) -> bool {
        tracked.broken || self.0.has_broken(&mut tracked.conn)
    }
}
