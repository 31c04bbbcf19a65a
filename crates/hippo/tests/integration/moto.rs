//! A local S3-compatible server with Object Lock (moto, from PyPI) for the audit export tests,
//! started per test, and an independent client (boto3) that reads back what the bucket holds.

use hippo_store::export::{S3Options, ServerSideEncryption};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "hippo-audit-lock";
pub const PREFIX: &str = "deployments/test";
pub const KEY_ID: &str = "testing-key-id";
pub const SECRET: &str = "testing-secret-key";

/// A moto S3 server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto, or returns `None` (after saying so loudly) when it is not installed and
    /// `CI` is unset.
    pub fn start() -> Option<Self> {
        let installed = Command::new("python3")
            .args(["-c", "import moto, boto3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !installed {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "moto is not installed (CI is set): run .ci/run, or pip install 'moto[server]'"
                );
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED: the S3 export tests need moto (pip install 'moto[server]'); \
                 .ci/run installs it !!!!!!!!\n"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Runs a Python snippet with boto3 against this server; returns what it printed as JSON.
    pub fn python(&self, script: &str) -> Value {
        let prelude = format!(
            "import boto3, json, os, hashlib\n\
             s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1')\n\
             BUCKET = '{BUCKET}'\n",
            self.endpoint
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("TZ", "UTC")
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "python printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn create_locked_bucket(&self) {
        self.python(
            "s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)\n\
             print(json.dumps(s3.get_object_lock_configuration(Bucket=BUCKET)['ObjectLockConfiguration']))",
        );
    }

    /// Every version of every object of the bucket: key, version, lock mode, retain-until (Unix
    /// seconds), encryption, whether it is the latest, sha256 and (latest only) its text.
    pub fn objects(&self) -> Vec<Value> {
        let v = self.python(
            "out = []\n\
             for page in s3.get_paginator('list_object_versions').paginate(Bucket=BUCKET):\n\
             \x20   for v in page.get('Versions', []):\n\
             \x20       h = s3.head_object(Bucket=BUCKET, Key=v['Key'], VersionId=v['VersionId'])\n\
             \x20       body = s3.get_object(Bucket=BUCKET, Key=v['Key'], VersionId=v['VersionId'])['Body'].read()\n\
             \x20       until = h.get('ObjectLockRetainUntilDate')\n\
             \x20       out.append({'key': v['Key'], 'version': v['VersionId'], 'latest': v['IsLatest'],\n\
             \x20           'mode': h.get('ObjectLockMode'), 'until': until.timestamp() if until else None,\n\
             \x20           'sse': h.get('ServerSideEncryption'), 'sha256': hashlib.sha256(body).hexdigest(),\n\
             \x20           'text': body.decode(errors='replace') if v['IsLatest'] else None})\n\
             print(json.dumps(out))",
        );
        v.as_array().unwrap().clone()
    }

    /// Tries to delete a locked object version; returns the error code S3 answered.
    pub fn try_delete(&self, key: &str, version: &str) -> String {
        self.python(&format!(
            "try:\n\
             \x20   s3.delete_object(Bucket=BUCKET, Key='{key}', VersionId='{version}')\n\
             \x20   print(json.dumps('deleted'))\n\
             except Exception as e:\n\
             \x20   print(json.dumps(e.response['Error']['Code']))"
        ))
        .as_str()
        .unwrap()
        .to_owned()
    }

    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            sse: ServerSideEncryption::AwsKms,
            kms_key_id: None,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
