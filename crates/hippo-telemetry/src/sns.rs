//! The SNS alert sink: publishes each alert's JSON to an SNS topic (the deployment's encrypted
//! `security_alarms` topic, or any SNS-compatible endpoint), signed with AWS Signature V4
//! (`aws-sigv4`) and sent with the workspace's reqwest. Credentials come from the environment
//! (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as for the other AWS calls.

use crate::alerts::{AlertSink, SinkError};
use async_trait::async_trait;
use hippo_proto::ops::SecurityAlert;
use std::time::{Duration, SystemTime};

pub struct SnsSink {
    topic_arn: String,
    region: String,
    endpoint: String,
    credentials: aws_credential_types::Credentials,
    http: reqwest::Client,
}

/// Why the SNS sink cannot be set up; names the configuration key.
#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error("alerts.sns_topic_arn: {0}")]
    Topic(String),
    #[error("alerts.sns_topic_arn: {0}")]
    Credentials(String),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl SnsSink {
    /// A sink for `topic_arn` (`arn:aws:sns:<region>:<account>:<name>`); the endpoint is
    /// `endpoint`, else AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL, else SNS in the topic's region.
    pub fn new(topic_arn: &str, endpoint: Option<String>) -> Result<Self, SnsError> {
        let parts: Vec<&str> = topic_arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[3].is_empty() {
            return Err(SnsError::Topic(
                "must be an SNS topic ARN, arn:aws:sns:<region>:<account>:<topic>".into(),
            ));
        }
        let region = parts[3].to_owned();
        let endpoint = endpoint
            .or_else(|| env("AWS_ENDPOINT_URL_SNS"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
        let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(SnsError::Credentials(
                "publishing to SNS needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)".into(),
            ));
        };
        let credentials = aws_credential_types::Credentials::new(
            id,
            secret,
            env("AWS_SESSION_TOKEN"),
            None,
            "environment",
        );
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SnsError::Topic(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            topic_arn: topic_arn.to_owned(),
            region,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            credentials,
            http,
        })
    }

    fn signed_headers(&self, url: &str, body: &[u8]) -> Result<Vec<(String, String)>, SinkError> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .ok_or_else(|| SinkError::Transport("the SNS endpoint is not a URL".into()))?;
        let headers = [
            ("host", host.as_str()),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ];
        let identity =
            aws_smithy_runtime_api::client::identity::Identity::from(self.credentials.clone());
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sns")
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| SinkError::Transport(format!("signing: {e}")))?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(body),
        )
        .map_err(|e| SinkError::Transport(format!("signing: {e}")))?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| SinkError::Transport(format!("signing: {e}")))?
            .into_parts();
        let mut out: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| *n != "host")
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        for (name, value) in instructions.headers() {
            out.push((name.to_owned(), value.to_owned()));
        }
        Ok(out)
    }
}

#[async_trait]
impl AlertSink for SnsSink {
    fn kind(&self) -> &'static str {
        "sns"
    }

    fn target(&self) -> String {
        self.topic_arn.clone()
    }

    async fn deliver(&self, alert: &SecurityAlert, body: &[u8]) -> Result<(), SinkError> {
        let subject = format!("Hippo security alert: {}", alert.kind.as_str());
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "Publish")
            .append_pair("Message", &String::from_utf8_lossy(body))
            .append_pair("Subject", &subject)
            .append_pair("TopicArn", &self.topic_arn)
            .append_pair("Version", "2010-03-31")
            .finish();
        let url = format!("{}/", self.endpoint);
        let mut req = self.http.post(&url).body(form.clone());
        for (name, value) in self.signed_headers(&url, form.as_bytes())? {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| {
            SinkError::Transport(if e.is_timeout() {
                "timed out".into()
            } else {
                "connection refused or failed".into()
            })
        })?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(SinkError::Status(resp.status().as_u16()))
        }
    }
}
