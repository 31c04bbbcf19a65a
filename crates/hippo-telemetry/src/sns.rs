//! The SNS alert sink: publishes each alert's JSON to an SNS topic (the deployment's encrypted
//! `security_alarms` topic, or any SNS-compatible endpoint), signed with AWS Signature V4
//! (`hippo_store::aws`) and sent with the workspace's reqwest. Credentials come from the
//! environment or a task role, as for the other AWS calls.

use crate::alerts::{AlertSink, SinkError};
use async_trait::async_trait;
use hippo_proto::ops::SecurityAlert;
use hippo_store::aws::{self, AwsCredentials};
use std::time::Duration;

pub struct SnsSink {
    topic_arn: String,
    region: String,
    endpoint: String,
    credentials: AwsCredentials,
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
        let endpoint = aws::endpoint_override(endpoint, "SNS")
            .unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
        let credentials = AwsCredentials::from_env()
            .map_err(|e| SnsError::Credentials(format!("publishing to SNS: {e}")))?;
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

    async fn signed_headers(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, SinkError> {
        let creds = self
            .credentials
            .current()
            .await
            .map_err(|e| SinkError::Transport(e.to_string()))?;
        aws::sign_post(
            &creds,
            "sns",
            &self.region,
            url,
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body,
        )
        .map_err(|e| SinkError::Transport(e.to_string()))
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
        for (name, value) in self.signed_headers(&url, form.as_bytes()).await? {
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
