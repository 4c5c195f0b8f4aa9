//! One error type for the JSON API, mapped to status codes in one place.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};

use crate::settings::SettingsError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Settings(e) if e.is_user_error() => StatusCode::UNPROCESSABLE_ENTITY,
            // Greenhouse said no (bad credentials, missing permission): the admin can act on it.
            ApiError::Settings(SettingsError::Greenhouse(e)) if !e.is_retryable() => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Settings(SettingsError::Greenhouse(_)) => StatusCode::BAD_GATEWAY,
            ApiError::Settings(_) | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
        }
        HttpResponse::build(status).json(serde_json::json!({ "error": self.to_string() }))
    }
}
