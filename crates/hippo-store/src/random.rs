//! Cryptographic randomness from the operating system; failure to get it is fatal, never papered over.

use crate::StoreError;

/// Fills an array with OS randomness.
pub fn bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf)
        .map_err(|e| StoreError::Crypto(format!("the OS random number generator failed: {e}")))?;
    Ok(buf)
}
