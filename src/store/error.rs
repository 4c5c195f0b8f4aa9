use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("stored record is not valid JSON: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Connection trouble is worth a retry; a corrupt record is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
            }
            StoreError::Io(_) => true,
            StoreError::Embedded(_) | StoreError::Corrupt(_) => false,
        }
    }
}

macro_rules! embedded_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(e: $ty) -> Self {
                StoreError::Embedded(e.to_string())
            }
        }
    )*};
}
embedded_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
