//! Who is calling: the bearer token resolved through the session store,
//! and the caller's rate limit checked.

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;

use super::state::AppState;
use crate::error::AppError;

/// An authenticated caller (40100 otherwise).
pub struct Caller {
    pub user_id: i64,
    pub token: String,
}

/// A caller who may be anonymous; a token that is sent must still be valid.
pub struct MaybeCaller(pub Option<Caller>);

/// The token of `Authorization: Bearer <token>`. The scheme is matched
/// without regard to case (RFC 9110 §11.1); two Authorization headers are
/// refused, not resolved one way or the other (a proxy and a client could
/// each mean a different one).
fn bearer(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AppError::Unauthorized(
            "send one Authorization header, not several".into(),
        ));
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| Some(token.trim().to_string()))
        .ok_or_else(|| {
            AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })
}

async fn resolve(state: Option<web::Data<AppState>>, token: String) -> Result<Caller, AppError> {
    let state = state.ok_or_else(|| AppError::internal("no app state"))?;
    let user_id = state.sessions.resolve(&token).await?;
    tracing::Span::current().record("user_id", user_id);
    // Per user, not per token: a user's sessions share one allowance.
    state.limits.check_user(user_id).await?;
    Ok(Caller { user_id, token })
}

/// The caller, if the request carries a token; a token that is sent must
/// be valid.
fn extract(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Option<Caller>, AppError>> {
    let token = bearer(req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    Box::pin(async move {
        match token? {
            Some(token) => resolve(state, token).await.map(Some),
            None => Ok(None),
        }
    })
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = extract(req);
        Box::pin(async move {
            caller
                .await?
                .ok_or_else(|| AppError::Unauthorized("a Bearer token is required".into()))
        })
    }
}

impl FromRequest for MaybeCaller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = extract(req);
        Box::pin(async move { caller.await.map(MaybeCaller) })
    }
}
