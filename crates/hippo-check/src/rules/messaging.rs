//! Messaging and delivery services that hold records in transit between producers and
//! consumers: SQS queue encryption, Kinesis Data Firehose delivery stream encryption.

use super::datastores::rule;
use super::helpers::*;
use super::{defaults, Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Format, Node, Resource, Tri, Val};

const E: &str = "164.312(a)(2)(iv)";
const QUEUE: &[&str] = &["aws_sqs_queue"];

/// A setting that is present and not an explicit `null` (which Terraform reads as unset).
fn set<'a>(r: &'a Resource, key: &str) -> Option<&'a Node> {
    r.get(key).filter(|n| n.val != Val::Null)
}

fn sqs_001(r: &Resource, _: &Index) -> Vec<Hit> {
    // A KMS key (customer-managed or alias/aws/sqs) encrypts the queue whatever the SSE-SQS
    // flag says; SQS-002 judges who owns it.
    if set(r, "kms_master_key_id").is_some() {
        return vec![];
    }
    match set(r, "sqs_managed_sse_enabled") {
        None if defaults::SQS_MANAGED_SSE_BY_DEFAULT => vec![],
        None => hit(r.line, "the queue is not encrypted at rest"),
        Some(n) => match n.truth() {
            Tri::Yes => vec![],
            Tri::No => hit(
                n.line,
                format!(
                    "`sqs_managed_sse_enabled` is {} and no `kms_master_key_id` is set: messages are stored unencrypted",
                    n.describe()
                ),
            ),
            Tri::Unknown => hit(n.line, unknown_msg("sqs_managed_sse_enabled", n)),
        },
    }
}

fn sqs_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_master_key_id"], idx, "the queue")
}

/// True if the delivery stream reads from a Kinesis data stream: Firehose then keeps the
/// source stream's encryption (HIPPO-AWS-KIN-001) and does not accept its own.
fn kinesis_source(r: &Resource) -> bool {
    r.get("kinesis_source_configuration").is_some()
        || r.get("KinesisStreamSourceConfiguration").is_some()
        || r.get_any(&["DeliveryStreamType"])
            .and_then(Node::as_str)
            .is_some_and(|t| t == "KinesisStreamAsSource")
}

fn fh_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    if kinesis_source(r) {
        return vec![];
    }
    // Terraform: `server_side_encryption { enabled, key_type, key_arn }`; CloudFormation:
    // `DeliveryStreamEncryptionConfigurationInput { KeyType, KeyARN }` (its presence turns
    // encryption on).
    let Some(sse) = r.get_any(&[
        "server_side_encryption",
        "DeliveryStreamEncryptionConfigurationInput",
    ]) else {
        return hit(
            r.line,
            "no server-side encryption with a customer-managed key: buffered records are encrypted only with an AWS-owned key, if at all",
        );
    };
    // `key_type` and `KeyType` are one key to the model, so the format tells the syntaxes
    // apart: only Terraform's block has an `enabled` switch (default false).
    if r.format != Format::CloudFormation {
        let on = require_true_in(sse, sse.line, &["enabled"], false);
        if !on.is_empty() {
            return on;
        }
    }
    match sse.get_any(&["key_type", "KeyType"]) {
        Some(t) if t.as_str() == Some("CUSTOMER_MANAGED_CMK") => {
            match key_kind(sse.get_any(&["key_arn", "KeyARN"]), idx) {
                KeyKind::CustomerManaged => vec![],
                KeyKind::Unknown => {
                    let k = sse.get_any(&["key_arn", "KeyARN"]).unwrap_or(sse);
                    hit(k.line, unknown_msg("key_arn", k))
                }
                _ => hit(
                    sse.line,
                    "`key_type` is CUSTOMER_MANAGED_CMK but `key_arn` names no customer-managed key",
                ),
            }
        }
        Some(t) if t.is_unknown() => hit(t.line, unknown_msg("key_type", t)),
        Some(t) => hit(
            t.line,
            format!(
                "`key_type` is {}; use CUSTOMER_MANAGED_CMK with a customer-managed key",
                t.describe()
            ),
        ),
        None => hit(
            sse.line,
            "`key_type` is not set (defaults to AWS_OWNED_CMK); use CUSTOMER_MANAGED_CMK with a customer-managed key",
        ),
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!("HIPPO-AWS-SQS-001", "SQS queues are encrypted at rest", High, &[E], QUEUE, TF_CFN, "sqs_managed_sse_enabled is not false, or kms_master_key_id is set (unset means SSE-SQS, on by default)", "sqs_managed_sse_enabled = true\n# or, for queues that carry PHI:\nkms_master_key_id = aws_kms_key.queues.arn",
            &["issue 16: queues carrying personal data with encryption switched off", "Checkov: CKV_AWS_27"], sqs_001),
        rule!("HIPPO-AWS-SQS-002", "SQS queues use a customer-managed KMS key", Low, &[E], QUEUE, TF_CFN, "kms_master_key_id names a customer-managed KMS key (not alias/aws/sqs, not SSE-SQS)", "kms_master_key_id                 = aws_kms_key.queues.arn\nkms_data_key_reuse_period_seconds = 300",
            &["seed 001: separate customer-managed keys per service", "Prowler: sqs_queues_server_side_encryption_enabled"], sqs_002),
        rule!("HIPPO-AWS-FH-001", "Kinesis Data Firehose delivery streams encrypt with a customer-managed KMS key", Medium, &[E], &["aws_kinesis_firehose_delivery_stream"], TF_CFN, "server_side_encryption { enabled = true, key_type = \"CUSTOMER_MANAGED_CMK\", key_arn = <CMK> } (not needed when a Kinesis stream is the source)", "server_side_encryption {\n  enabled  = true\n  key_type = \"CUSTOMER_MANAGED_CMK\"\n  key_arn  = aws_kms_key.firehose.arn\n}",
            &["issue 16: Firehose buffers the records it delivers", "Checkov: CKV_AWS_240, CKV_AWS_241"], fh_001),
    ]
}
