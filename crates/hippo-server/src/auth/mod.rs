//! People and services proving who they are (API keys, sessions, OIDC tokens), signing in with a
//! second factor, administering users, and asking the policy engine questions.

pub mod alert;
pub mod caller;
pub mod passkeys;
pub mod signin;
pub mod tenants;
pub mod throttle;
pub mod users;
