//! `hippo keyring generate --kms-key-id` and `hippo keyring seal`: a keyring sealed by a KMS
//! key (see `hippo_docs::sealed_keyring`), so the secret store holds nothing usable without
//! KMS.

use crate::cli::KmsSealArgs;
use anyhow::{bail, Context, Result};
use hippo_docs::kms::KmsClient;
use hippo_docs::sealed_keyring;
use hippo_server::config::FlagOverrides;
use std::path::Path;
use zeroize::Zeroizing;

/// `plain` sealed by the KMS key of `args`, or `plain` itself when none is given.
pub async fn sealed_if_asked(
    args: &KmsSealArgs,
    plain: Zeroizing<String>,
) -> Result<Zeroizing<String>> {
    let Some(key) = &args.kms_key_id else {
        return Ok(plain);
    };
    let client = KmsClient::from_env(args.kms_endpoint.clone(), None)
        .context("cannot reach KMS to seal the keyring")?;
    let sealed = sealed_keyring::seal(&client, key, &plain)
        .await
        .with_context(|| format!("KMS key {key} did not seal the keyring"))?;
    // Proof before anything is printed: the sealed form opens back to the same keyring.
    let back = sealed_keyring::open(&client, &sealed)
        .await
        .context("the sealed keyring does not open again")?;
    if back.as_str() != plain.as_str() {
        bail!("the sealed keyring opens to something else; nothing printed");
    }
    Ok(Zeroizing::new(sealed))
}

/// `hippo keyring seal`: the data directory's (or the given) plain keyring, sealed, on stdout.
pub async fn seal_existing(data_dir: &Path, args: &KmsSealArgs, file: Option<&Path>) -> Result<()> {
    if args.kms_key_id.is_none() {
        bail!("hippo keyring seal needs --kms-key-id KEY (the KMS key that seals the keyring)");
    }
    let keyring = match file {
        Some(path) => {
            let text = hippo_store::Keyring::read_file(path)?;
            if sealed_keyring::is_sealed(&text) {
                bail!("{} is already sealed by KMS", path.display());
            }
            hippo_store::Keyring::from_json(&text, &path.display().to_string())?
        }
        None => hippo_server::Config::load(data_dir, &FlagOverrides::default())?
            .load_keyring(data_dir)?,
    };
    let sealed = sealed_if_asked(args, keyring.to_json()).await?;
    println!("{}", sealed.as_str());
    eprintln!("The keyring sealed by KMS is on stdout: put it in the secret store in place of the plain one (HIPPO_KEYRING or keyring_file); instances open it with kms:Decrypt at start.");
    Ok(())
}
