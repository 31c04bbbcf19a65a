//! ECS and ECR rules: secrets in task definitions, root containers, logging, ECS Exec,
//! public IPs, Fargate, image pinning and scanning.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN, TF_CFN_ECS};
use crate::model::{Node, Resource, Tri, Val};
use crate::secrets;

const TASK: &[&str] = &["aws_ecs_task_definition"];
const SERVICE: &[&str] = &["aws_ecs_service"];

fn per_container(r: &Resource, f: impl Fn(&Node) -> Vec<Hit>) -> Vec<Hit> {
    let defs = container_defs(r);
    if defs.iter().any(|d| matches!(d.val, Val::Unknown(_))) {
        return hit(r.line, unresolved_block("the container definitions"));
    }
    defs.iter().flat_map(f).collect()
}

fn name(c: &Node) -> String {
    c.get("name")
        .and_then(Node::as_str)
        .unwrap_or("container")
        .to_string()
}

fn ecs_001(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| {
        let mut out = Vec::new();
        for e in c.get("environment").map(|e| e.items()).unwrap_or_default() {
            let n = e.get("name").and_then(Node::as_str).unwrap_or("");
            let v = e.get("value").and_then(Node::as_str).unwrap_or("");
            if v.is_empty() {
                continue;
            }
            if secret_name(n) || secrets::looks_secret(v) {
                out.extend(hit(e.line, format!("container {} has secret-like environment variable {n} in plaintext; use `secrets` with Secrets Manager", name(c))));
            }
        }
        out
    })
}

fn ecs_002(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| match c.get("user") {
        None => hit(
            c.line,
            format!(
                "container {} sets no `user`; it runs as the image default (often root)",
                name(c)
            ),
        ),
        Some(u) => match u.as_str() {
            Some(s) if is_root_user(s) => {
                hit(u.line, format!("container {} runs as root", name(c)))
            }
            Some(_) => vec![],
            None => hit(u.line, unknown_msg("user", u)),
        },
    })
}

pub fn is_root_user(s: &str) -> bool {
    let user = s.split(':').next().unwrap_or("").trim();
    user == "root" || user == "0" || user.is_empty()
}

fn ecs_003(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| match c.get("logConfiguration") {
        Some(_) => vec![],
        None => hit(
            c.line,
            format!("container {} has no logConfiguration", name(c)),
        ),
    })
}

fn ecs_004(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| match c.get("privileged") {
        Some(p) if p.truth() == Tri::Yes => {
            hit(p.line, format!("container {} is privileged", name(c)))
        }
        _ => vec![],
    })
}

fn ecs_005(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| {
        require_true_in(c, c.line, &["readonlyRootFilesystem"], false)
    })
}

fn ecs_006(r: &Resource, _: &Index) -> Vec<Hit> {
    require_not_true(r, &["enable_execute_command"])
}

fn ecs_007(r: &Resource, _: &Index) -> Vec<Hit> {
    let n = r
        .body
        .path(&["network_configuration", "assign_public_ip"])
        .or_else(|| {
            r.body.path(&[
                "NetworkConfiguration",
                "AwsvpcConfiguration",
                "AssignPublicIp",
            ])
        });
    match n {
        Some(v) if v.truth() == Tri::Yes => hit(
            v.line,
            "tasks get a public IP address; run them in private subnets",
        ),
        Some(v) if v.truth() == Tri::Unknown => hit(v.line, unknown_msg("assign_public_ip", v)),
        _ => vec![],
    }
}

fn ecs_008(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("requires_compatibilities") {
        Some(n) if strings(Some(n)).iter().any(|s| s == "FARGATE") => vec![],
        Some(n) => hit(n.line, "task definition is not for the Fargate launch type"),
        None => hit(
            r.line,
            "`requires_compatibilities` does not include FARGATE",
        ),
    }
}

fn ecs_009(r: &Resource, _: &Index) -> Vec<Hit> {
    per_container(r, |c| match c.get("image") {
        Some(i) => match i.as_str() {
            Some(s) if unpinned_image(s) => hit(
                i.line,
                format!("image {s} is not pinned to a version tag or digest"),
            ),
            _ => vec![],
        },
        None => vec![],
    })
}

fn ecr_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r
        .body
        .path(&["image_scanning_configuration", "scan_on_push"])
    {
        Some(n) if n.truth() == Tri::Yes => vec![],
        Some(n) => hit(n.line, format!("`scan_on_push` is {}", n.describe())),
        None => hit(r.line, "image scanning on push is not enabled"),
    }
}

fn ecr_002(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("image_tag_mutability").and_then(Node::as_str) {
        Some("IMMUTABLE") => vec![],
        _ => hit(
            r.get("image_tag_mutability")
                .map(|n| n.line)
                .unwrap_or(r.line),
            "image tags are mutable",
        ),
    }
}

fn ecr_003(r: &Resource, _: &Index) -> Vec<Hit> {
    match r
        .body
        .path(&["encryption_configuration", "encryption_type"])
        .or_else(|| r.body.path(&["EncryptionConfiguration", "EncryptionType"]))
        .and_then(Node::as_str)
    {
        Some("KMS") => vec![],
        _ => hit(
            r.line,
            "repository is not encrypted with KMS (encryption_type = \"KMS\")",
        ),
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-ECS-001", title: "ECS task definitions keep secrets out of environment variables", severity: Severity::Critical, hipaa: &["164.312(a)(1)", "164.312(d)", "164.308(a)(5)(ii)(D)"], types: TASK, formats: TF_CFN_ECS,
            expected: "Passwords, tokens and keys come from `secrets` (Secrets Manager / SSM), never `environment`", remediation: "\"secrets\": [{ \"name\": \"DB_PASSWORD\", \"valueFrom\": \"arn:aws:secretsmanager:us-east-1:111122223333:secret:db-password\" }]",
            sources: &["seed 001: Secrets stored in Secrets Manager; not environment variables", "seed 003: no secrets in task definitions", "gap: Checkov has no check for secrets in an ECS task definition's environment"], kind: Kind::Resource(ecs_001) },
        Rule { id: "HIPPO-AWS-ECS-002", title: "ECS containers run as a non-root user", severity: Severity::High, hipaa: &["164.308(a)(4)(ii)(B)", "164.312(a)(1)"], types: TASK, formats: TF_CFN_ECS,
            expected: "Every container sets `user` to a non-root UID/name", remediation: "\"user\": \"1001:1001\"",
            sources: &["seed 001: Don't run as root user", "gap: Checkov has no check for a non-root container user"], kind: Kind::Resource(ecs_002) },
        Rule { id: "HIPPO-AWS-ECS-003", title: "ECS containers send logs to CloudWatch", severity: Severity::Medium, hipaa: &["164.312(b)"], types: TASK, formats: TF_CFN_ECS,
            expected: "Every container has a logConfiguration (awslogs)", remediation: "\"logConfiguration\": { \"logDriver\": \"awslogs\", \"options\": { \"awslogs-group\": \"/ecs/app\", \"awslogs-region\": \"us-east-1\", \"awslogs-stream-prefix\": \"ecs\" } }",
            sources: &["seed 001: Container logs sent to CloudWatch", "AWS Config: ecs-task-definition-log-configuration", "Prowler: ecs_task_definitions_logging_enabled"], kind: Kind::Resource(ecs_003) },
        Rule { id: "HIPPO-AWS-ECS-004", title: "ECS containers are not privileged", severity: Severity::High, hipaa: &["164.312(a)(1)"], types: TASK, formats: TF_CFN_ECS,
            expected: "privileged is false or unset", remediation: "\"privileged\": false",
            sources: &["AWS Config: ecs-containers-nonprivileged", "Prowler: ecs_task_definitions_containers_nonprivileged"], kind: Kind::Resource(ecs_004) },
        Rule { id: "HIPPO-AWS-ECS-005", title: "ECS containers have read-only root filesystems", severity: Severity::Low, hipaa: &["164.312(c)(1)"], types: TASK, formats: TF_CFN_ECS,
            expected: "readonlyRootFilesystem = true", remediation: "\"readonlyRootFilesystem\": true",
            sources: &["AWS Config: ecs-containers-readonly-access", "Prowler: ecs_task_definitions_containers_readonly_access"], kind: Kind::Resource(ecs_005) },
        Rule { id: "HIPPO-AWS-ECS-006", title: "ECS Exec is off", severity: Severity::High, hipaa: &["164.308(a)(4)(ii)(B)", "164.312(a)(1)"], types: SERVICE, formats: TF_CFN,
            expected: "enable_execute_command = false (or unset) in production", remediation: "enable_execute_command = false",
            sources: &["seed 003: ECS Exec off in production"], kind: Kind::Resource(ecs_006) },
        Rule { id: "HIPPO-AWS-ECS-007", title: "ECS tasks get no public IP", severity: Severity::High, hipaa: &["164.312(e)(1)", "164.312(a)(1)"], types: SERVICE, formats: TF_CFN,
            expected: "assign_public_ip = false; tasks in private subnets", remediation: "network_configuration {\n  subnets          = aws_subnet.private[*].id\n  security_groups  = [aws_security_group.ecs.id]\n  assign_public_ip = false\n}",
            sources: &["seed 001: Tasks deployed in private subnets", "Prowler: ecs_service_no_assign_public_ip"], kind: Kind::Resource(ecs_007) },
        Rule { id: "HIPPO-AWS-ECS-008", title: "ECS task definitions use Fargate", severity: Severity::Low, hipaa: &["164.308(a)(1)(ii)(B)"], types: TASK, formats: TF_CFN_ECS,
            expected: "requires_compatibilities includes FARGATE", remediation: "requires_compatibilities = [\"FARGATE\"]",
            sources: &["seed 001: Fargate launch type"], kind: Kind::Resource(ecs_008) },
        Rule { id: "HIPPO-AWS-ECS-009", title: "ECS container images are pinned", severity: Severity::Medium, hipaa: &["164.312(c)(1)", "164.308(a)(1)(ii)(B)"], types: TASK, formats: TF_CFN_ECS,
            expected: "Images use a version tag or digest, never `latest` or no tag", remediation: "\"image\": \"111122223333.dkr.ecr.us-east-1.amazonaws.com/app@sha256:...\"",
            sources: &["seed 004: Pin dependency versions; disallow latest tags"], kind: Kind::Resource(ecs_009) },
        Rule { id: "HIPPO-AWS-ECR-001", title: "ECR scans images on push", severity: Severity::Medium, hipaa: &["164.308(a)(1)(ii)(A)", "164.308(a)(5)(ii)(B)"], types: &["aws_ecr_repository"], formats: TF_CFN,
            expected: "image_scanning_configuration { scan_on_push = true }", remediation: "image_scanning_configuration {\n  scan_on_push = true\n}",
            sources: &["seed 001: Image scanning enabled", "seed 004: container scanning", "Prowler: ecr_repositories_scan_images_on_push_enabled"], kind: Kind::Resource(ecr_001) },
        Rule { id: "HIPPO-AWS-ECR-002", title: "ECR image tags are immutable", severity: Severity::Low, hipaa: &["164.312(c)(1)"], types: &["aws_ecr_repository"], formats: TF_CFN,
            expected: "image_tag_mutability = \"IMMUTABLE\"", remediation: "image_tag_mutability = \"IMMUTABLE\"",
            sources: &["seed 004: disallow latest tags; write-once artifact repository"], kind: Kind::Resource(ecr_002) },
        Rule { id: "HIPPO-AWS-ECR-003", title: "ECR repositories are encrypted with KMS", severity: Severity::Medium, hipaa: &["164.312(a)(2)(iv)"], types: &["aws_ecr_repository"], formats: TF_CFN,
            expected: "encryption_configuration { encryption_type = \"KMS\" }", remediation: "encryption_configuration {\n  encryption_type = \"KMS\"\n  kms_key         = aws_kms_key.ecr.arn\n}",
            sources: &["seed 003: RDS, S3, ECR use encryption"], kind: Kind::Resource(ecr_003) },
    ]
}
