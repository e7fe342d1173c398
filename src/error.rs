//! The one error type that reaches users, and its mapping to the contract.
//!
//! Policy: domain rules, store queries, actors and handlers all return
//! `AppResult`. Each variant carries a message written for the client; the
//! contract's code is decided here and nowhere else. The HTTP side renders
//! an error (`api/error_response.rs`): its status is derived from the code,
//! its body is the envelope. `Internal` keeps its detail for the log and
//! shows the client nothing. Database errors are sorted into variants by
//! `store/errors.rs`.

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    WechatLoginRejected(String),
    #[error("{0}")]
    Forbidden(String),
    /// A join without the event's password, or with a wrong one.
    #[error("{0}")]
    WrongJoinPassword(String),
    /// A join to a group-only event without proof of one of its groups.
    #[error("{0}")]
    NotInGroup(String),
    /// WeChat rates the joiner as a likely bot (the event asked).
    #[error("{0}")]
    RiskRefused(String),
    #[error("{0}")]
    NotFound(String),
    /// A known path asked with a method it does not have; `allow` lists
    /// the methods it has (the answer's `Allow` header).
    #[error("method not allowed: this path answers {allow}")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    EventClosed(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    EventFull(String),
    /// A claim's window is closed (past `claim_by`) or its prize shipped.
    #[error("{0}")]
    ClaimClosed(String),
    #[error("request body too large: the limit is 16 KiB")]
    PayloadTooLarge,
    /// A request body that did not arrive in time (a client trickling it
    /// to hold a connection); the connection is closed after the answer.
    #[error("{0}")]
    RequestTimeout(String),
    /// An upload over its own byte limit (not the JSON bodies' 16 KiB).
    #[error("{0}")]
    UploadTooLarge(String),
    /// An upload that is not an image we take, judged by its bytes.
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Whole seconds until the client may try again (`Retry-After`).
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Internal(String),
    /// Between the join handler and an event's actor only: the event
    /// checks joiners with WeChat, and this joiner's rank is not known
    /// yet. The handler finds it and asks again; never a client's answer.
    #[error("internal error")]
    RiskRankNeeded,
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Unavailable(String),
    /// The server is shutting down; another instance (or this one,
    /// restarted) answers the retry.
    #[error("the server is restarting; try again")]
    ShuttingDown,
    /// The database connection died under the query: the connection is
    /// dropped from the pool, and whether a write applied is unknown.
    #[error("the database is unreachable; try again")]
    DatabaseLost,
    /// Cluster mode: a newer owner holds the event, and the database's
    /// fence refused this instance's write (rolled back, nothing stored).
    /// The retry reaches the new owner.
    #[error("the event moved to another server; try again")]
    Fenced,
}

impl AppError {
    pub fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 40000,
            Self::Unauthorized(_) => 40100,
            Self::WechatLoginRejected(_) => 40101,
            Self::Forbidden(_) => 40300,
            Self::WrongJoinPassword(_) => 40310,
            Self::NotInGroup(_) => 40311,
            Self::RiskRefused(_) => 40312,
            Self::NotFound(_) => 40400,
            Self::MethodNotAllowed { .. } => 40500,
            Self::EventClosed(_) => 40900,
            Self::InvalidState(_) => 40901,
            Self::EventFull(_) => 40902,
            Self::ClaimClosed(_) => 40903,
            Self::RequestTimeout(_) => 40800,
            Self::PayloadTooLarge | Self::UploadTooLarge(_) => 41300,
            Self::UnsupportedMedia(_) => 41500,
            Self::RateLimited { .. } => 42900,
            Self::Internal(_) | Self::RiskRankNeeded => 50000,
            Self::Upstream(_) => 50200,
            Self::Unavailable(_) | Self::DatabaseLost | Self::ShuttingDown | Self::Fenced => 50300,
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn event_not_found() -> Self {
        Self::NotFound("no such event".into())
    }

    /// Cluster mode: the event's ownership is moving (a claim given back,
    /// lost, or owned elsewhere than a forwarded request expected).
    pub fn changing_servers() -> Self {
        Self::Unavailable("the event is changing servers; try again".into())
    }

    /// The event already holds as many requests as its mailbox allows.
    pub fn event_busy() -> Self {
        Self::Unavailable("the event is busy: its queue is full; try again".into())
    }

    /// The event's actor stopped or could not load: the retry starts a new
    /// one from the database.
    pub fn event_unavailable() -> Self {
        Self::Unavailable("the event is temporarily unavailable; try again".into())
    }

    /// A join or leave whose batch failed to commit (or was never written).
    pub fn participation_not_stored() -> Self {
        Self::Unavailable("the participation could not be stored; try again".into())
    }
}
