//! TOTP second factor (RFC 6238): secrets, provisioning URIs and QR codes, and code checks
//! that report the time step they matched, so the store can refuse a replayed code.
//!
//! Parameters are the ones every authenticator app supports: HMAC-SHA1, 6 digits, 30 s steps.
//! A code is accepted in the current step or one step either side (clock drift of up to 30 s).

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: u64 = 1;
/// Secret length: 160 bits, RFC 4226's recommendation.
pub const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("a TOTP code is {DIGITS} digits")]
    Malformed,
    #[error("the TOTP secret is unusable")]
    BadSecret,
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(DRIFT_STEPS as u16)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|_| TotpError::BadSecret)
}

/// What a user needs to enrol: the `otpauth://` URI, the same as a QR code (SVG), and the
/// secret in base32 for typing by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    pub uri: String,
    pub qr_svg: String,
    pub secret_base32: String,
}

/// The enrolment material for `secret`. `account` appears in the user's app (their login
/// name); `issuer` names the deployment.
pub fn provision(secret: &[u8], issuer: &str, account: &str) -> Result<Provisioning, TotpError> {
    let t = totp(secret, issuer, account)?;
    let uri = t.to_url().map_err(|_| TotpError::BadSecret)?;
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| TotpError::BadSecret)?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Provisioning {
        uri,
        qr_svg,
        secret_base32: t.secret().to_base32(),
    })
}

/// The secret of a provisioning's `secret_base32`, as an authenticator app reads it.
pub fn decode_base32(secret: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(secret.trim())
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

/// The code for time step `step` (for tests and for the software authenticator in examples).
pub fn code_at_step(secret: &[u8], step: u64) -> Result<String, TotpError> {
    Ok(totp(secret, "hippo", "x")?
        .generate(step * STEP_SECS)
        .to_string())
}

/// The time step `code` matches at `now_secs` (within the drift window), if any. The caller
/// must then record the step and refuse any code for a step at or before the last recorded one
/// (replay, RFC 6238 section 5.2).
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Result<Option<u64>, TotpError> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let t = totp(secret, "hippo", "x")?;
    let current = now_secs / STEP_SECS;
    let mut found = None;
    // Every candidate is computed and compared, whichever matches, so timing does not tell
    // which step (if any) matched.
    for step in current.saturating_sub(DRIFT_STEPS)..=current + DRIFT_STEPS {
        let expected = t.generate(step * STEP_SECS).to_string();
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 6238 appendix B, SHA-1 seed, truncated to 6 digits.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors() {
        for (t, full) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(code_at_step(RFC_SEED, t / STEP_SECS).unwrap(), full[2..]);
        }
    }

    #[test]
    fn drift_of_one_step_is_accepted_two_is_not() {
        let now = 1_700_000_000u64;
        let step = now / STEP_SECS;
        let code = code_at_step(RFC_SEED, step - 1).unwrap();
        assert_eq!(matching_step(RFC_SEED, &code, now).unwrap(), Some(step - 1));
        let old = code_at_step(RFC_SEED, step - 2).unwrap();
        let found = matching_step(RFC_SEED, &old, now).unwrap();
        // A code two steps old only matches if it happens to equal a nearby step's code.
        assert!(found.is_none() || found.unwrap() >= step - 1);
    }

    #[test]
    fn malformed_codes_are_refused_before_any_hmac() {
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(matching_step(RFC_SEED, bad, 0), Err(TotpError::Malformed));
        }
    }

    #[test]
    fn provisioning_uri_carries_the_parameters_and_a_qr_code() {
        let p = provision(&[7u8; SECRET_BYTES], "Hippo", "nurse1").unwrap();
        assert!(
            p.uri.starts_with("otpauth://totp/Hippo:nurse1?"),
            "{}",
            p.uri
        );
        assert!(p.uri.contains("secret=") && p.uri.contains("issuer=Hippo"));
        assert!(p.qr_svg.starts_with("<?xml") && p.qr_svg.contains("<svg"));
        assert_eq!(p.secret_base32.len(), 32);
    }

    proptest! {
        #[test]
        fn a_generated_code_matches_its_own_step(secret in proptest::array::uniform20(any::<u8>()), t in 60u64..4_000_000_000) {
            let step = t / STEP_SECS;
            let code = code_at_step(&secret, step).unwrap();
            let m = matching_step(&secret, &code, t).unwrap();
            prop_assert!(m.is_some());
            prop_assert!(m.unwrap() + DRIFT_STEPS >= step && m.unwrap() <= step + DRIFT_STEPS);
        }

        #[test]
        fn checking_never_panics(code in ".{0,12}", t in any::<u64>()) {
            let _ = matching_step(&[1u8; SECRET_BYTES], &code, t / 2);
        }
    }
}
