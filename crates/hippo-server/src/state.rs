//! Shared state handed to every handler.

use crate::config::Config;
use crate::ratelimit::Limiter;
use hippo_store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub limiter: Arc<Limiter>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        Self {
            limiter: Arc::new(Limiter::new(&config.rate_limit)),
            config: Arc::new(config),
            store,
        }
    }
}
