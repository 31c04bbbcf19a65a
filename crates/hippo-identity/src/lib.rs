//! People's credentials as pure rules: password policy and Argon2id, TOTP, recovery codes,
//! session tokens and timeouts, sign-in throttling. The stores keep the state; the server
//! draws the randomness; this crate decides.

pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod totp;

pub use password::{Argon2Cost, PasswordError};
pub use session::{SessionState, Timeouts};
pub use throttle::{ThrottlePolicy, ThrottleScope};
