//! What IAM identity policies grant on every resource: full administrator access, whole
//! services, data-read actions and permissions-management actions on `Resource: "*"`, each
//! judged per statement, with unresolvable actions or resources reported as unknown.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Msg, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource, Tri, Val};

/// Resources that hold identity policy documents, in both formats (CloudFormation
/// `AWS::IAM::Role`, `User` and `Group` carry inline `Policies`). Resource policies (a KMS
/// key policy, where `Resource: "*"` is the key itself; bucket policies) are not among them.
const POLICY_HOLDERS: &[&str] = &[
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "aws_iam_role",
    "aws_iam_user",
    "aws_iam_group",
];

/// Actions that read stored data (objects, secrets, parameters, decrypted ciphertext, table
/// items): on `"*"` they reach every such store in the account, PHI included.
const DATA_READ: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "dynamodb:Query",
];

/// Condition keys that narrow a statement to some resources (by tag, owning account or
/// organisation, the calling service, the secret or the partition key), so that `"*"` no
/// longer means every store in the account.
const NARROWING_CONDITIONS: &[&str] = &[
    "aws:resourcetag/",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "kms:viaservice",
    "kms:calleraccount",
    "kms:encryptioncontext:",
    "s3:resourceaccount",
    "secretsmanager:secretid",
    "secretsmanager:resourcetag/",
    "ssm:resourcetag/",
    "dynamodb:leadingkeys",
];

/// Actions that change who may do what: with them on `"*"` a principal can grant itself (or
/// a role it passes) any permission.
const PERMISSIONS_MANAGEMENT: &[&str] = &[
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AddUserToGroup",
];

/// Every policy document a resource carries, with the line to report it at: Terraform's
/// `policy` and `inline_policy { policy }`, CloudFormation's `PolicyDocument` and
/// `Policies[].PolicyDocument` (roles, users, groups).
fn policy_documents(r: &Resource) -> Vec<&Node> {
    let mut out: Vec<&Node> = r
        .get_any(&["policy", "PolicyDocument"])
        .into_iter()
        .collect();
    for key in ["inline_policy", "Policies"] {
        for p in r.get(key).map(|p| p.items()).unwrap_or_default() {
            out.extend(p.get_any(&["policy", "PolicyDocument"]));
        }
    }
    out
}

/// One element of an `Action` or `Resource` list.
enum Elem<'a> {
    Known(&'a str),
    /// A string with literal text around an unresolved part (`arn:aws:s3:::${var.b}/*`).
    Partial,
    /// A value that could be anything, `"*"` included (a variable, a data source).
    Unknown,
    /// A reference to another resource's attribute: an ARN or id, never a wildcard.
    Reference,
}

fn elems(n: Option<&Node>) -> Vec<Elem<'_>> {
    let Some(n) = n else { return vec![] };
    match &n.val {
        Val::Str(s) => vec![Elem::Known(s)],
        Val::List(items) => items.iter().flat_map(|i| elems(Some(i))).collect(),
        Val::Ref(_) => vec![Elem::Reference],
        Val::Unknown(_) if n.is_partial_string() => vec![Elem::Partial],
        Val::Unknown(_) => vec![Elem::Unknown],
        _ => vec![],
    }
}

/// Whether the statement applies to every resource: no `Resource` (a `NotResource`
/// statement reaches everything it does not name) or a `"*"` among them.
fn every_resource(stmt: &Node) -> Tri {
    let Some(res) = stmt.get("Resource") else {
        return Tri::Yes;
    };
    let es = elems(Some(res));
    if es.iter().any(|e| matches!(e, Elem::Known("*"))) {
        Tri::Yes
    } else if es.iter().any(|e| matches!(e, Elem::Unknown)) {
        Tri::Unknown
    } else {
        Tri::No
    }
}

/// What the unknown values of an `Action` or `Resource` depend on, for the message: a value
/// that could be anything first, else a string with an unknown part.
fn first_unknown(n: Option<&Node>) -> Option<String> {
    let n = n?;
    let items: Vec<&Node> = match &n.val {
        Val::List(items) => items.iter().collect(),
        _ => vec![n],
    };
    let unknown = |partial: bool| {
        items
            .iter()
            .find(|i| matches!(i.val, Val::Unknown(_)) && i.is_partial_string() == partial)
            .and_then(|i| unresolvable(i))
    };
    unknown(false).or_else(|| unknown(true))
}

/// Case-insensitive IAM wildcard match (`*` any run, `?` one character).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What a rule looks for in a statement's actions.
struct Wanted {
    /// True for an action pattern the rule reports.
    known: fn(&str) -> bool,
    /// Whether an action with an unresolved part could be one the rule reports.
    partial_may_match: bool,
}

/// What a policy document grants that a rule reports.
enum Verdict {
    Grants(Vec<String>),
    /// What could not be resolved, in words.
    Unresolved(String),
    Clean,
}

/// Judges the Allow statements of a document: the actions `wanted` on every resource,
/// unless `exempt` says the statement's conditions narrow it.
fn judge(stmts: &[Node], wanted: &Wanted, exempt: fn(&Node) -> bool) -> Verdict {
    let mut found: Vec<String> = Vec::new();
    let mut unresolved = None;
    for s in stmts {
        if s.get("Effect").and_then(Node::as_str) != Some("Allow") || exempt(s) {
            continue;
        }
        let mut hits = Vec::new();
        let mut unknown_action = false;
        for e in elems(s.get("Action")) {
            match e {
                Elem::Known(a) if (wanted.known)(a) => hits.push(a.to_string()),
                Elem::Unknown => unknown_action = true,
                Elem::Partial if wanted.partial_may_match => unknown_action = true,
                _ => {}
            }
        }
        let named = |key: &str, what: &str| match first_unknown(s.get(key)) {
            Some(dep) => format!("{what} ({dep})"),
            None => what.to_string(),
        };
        match every_resource(s) {
            Tri::Yes if !hits.is_empty() => found.extend(hits),
            Tri::Yes if unknown_action => {
                unresolved = Some(named("Action", "the statement's actions"))
            }
            Tri::Unknown if !hits.is_empty() || unknown_action => {
                unresolved = Some(named("Resource", "the statement's resources"))
            }
            _ => {}
        }
    }
    found.sort();
    found.dedup();
    match (found.is_empty(), unresolved) {
        (false, _) => Verdict::Grants(found),
        (true, Some(what)) => Verdict::Unresolved(what),
        (true, None) => Verdict::Clean,
    }
}

/// Runs `judge` over every policy document of a resource and words the findings.
fn grants(
    r: &Resource,
    idx: &Index,
    wanted: Wanted,
    exempt: fn(&Node) -> bool,
    what: &str,
    message: fn(&[String]) -> String,
) -> Vec<Hit> {
    let mut out = Vec::new();
    for p in policy_documents(r) {
        let Some(stmts) = policy_statements(p, idx) else {
            if p.is_unknown() {
                out.extend(hit(p.line, unknown_msg("policy", p)));
            }
            continue;
        };
        match judge(&stmts, &wanted, exempt) {
            Verdict::Grants(actions) => out.extend(hit(p.line, message(&actions))),
            Verdict::Unresolved(unknown) => out.extend(hit(
                p.line,
                Msg {
                    text: format!(
                        "{unknown} cannot be resolved statically, so whether the policy grants {what} on every resource is unknown; check it once the values are known"
                    ),
                    unresolved: true,
                },
            )),
            Verdict::Clean => {}
        }
    }
    out
}

fn no_exemption(_: &Node) -> bool {
    false
}

fn any_condition(stmt: &Node) -> bool {
    !condition_keys(stmt).is_empty()
}

fn narrowing_condition(stmt: &Node) -> bool {
    condition_keys(stmt)
        .iter()
        .any(|k| NARROWING_CONDITIONS.iter().any(|n| k.starts_with(n)))
}

/// `"*"`, or a whole service (`s3:*`), which HIPPO-AWS-IAM-001 and -006 report: the narrower
/// rules leave them out so that one grant makes one finding.
fn broad(a: &str) -> bool {
    a == "*" || (a.ends_with(":*") && a.len() > 2 && !a.contains('?'))
}

fn covers_any(a: &str, list: &[&str]) -> bool {
    !broad(a) && list.iter().any(|x| glob(a, x))
}

fn iam_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    grants(
        r,
        idx,
        Wanted {
            known: |a| a == "*",
            partial_may_match: false,
        },
        no_exemption,
        "\"*\" actions",
        |_| "policy grants \"*\" actions on \"*\" resources (full administrator access)".into(),
    )
}

fn iam_006(r: &Resource, idx: &Index) -> Vec<Hit> {
    grants(
        r,
        idx,
        Wanted {
            known: |a| a != "*" && broad(a),
            partial_may_match: true,
        },
        no_exemption,
        "service-wide wildcards",
        |w| {
            format!(
            "policy grants every action of a service ({}) on every resource (\"*\"); name the actions and resources the principal needs",
            w.join(", ")
        )
        },
    )
}

fn iam_007(r: &Resource, idx: &Index) -> Vec<Hit> {
    grants(
        r,
        idx,
        Wanted {
            known: |a| covers_any(a, DATA_READ),
            partial_may_match: true,
        },
        narrowing_condition,
        "data-read actions",
        |w| {
            format!(
            "policy grants data-read actions ({}) on every resource (\"*\"): the principal can read every object, secret, parameter or table item those actions reach in the account; name the resources (or narrow them with a condition such as aws:ResourceTag or kms:ViaService)",
            w.join(", ")
        )
        },
    )
}

fn iam_008(r: &Resource, idx: &Index) -> Vec<Hit> {
    grants(
        r,
        idx,
        Wanted {
            known: |a| covers_any(a, PERMISSIONS_MANAGEMENT),
            partial_may_match: true,
        },
        any_condition,
        "permissions-management actions",
        |w| {
            format!(
            "policy grants permissions-management actions ({}) on every resource (\"*\") without a condition: the principal can grant itself any permission; name the roles, users and policies, or add a condition such as iam:PassedToService",
            w.join(", ")
        )
        },
    )
}

pub fn rules() -> Vec<Rule> {
    let iam: &[&str] = &["164.308(a)(3)(i)", "164.308(a)(4)(ii)(B)", "164.312(a)(1)"];
    vec![
        rule!("HIPPO-AWS-IAM-001", "IAM policies do not grant full administrator access", High, iam, POLICY_HOLDERS, TF_CFN, "No Allow statement with Action \"*\" on Resource \"*\"", "Grant only the actions the role needs, on named resources",
            &["seed 001: Task roles with least privilege", "seed 003: CI/CD IAM scoped roles", "AWS Config: iam-policy-no-statements-with-admin-access", "Prowler: iam_policy_no_administrative_privileges"], iam_001),
        rule!("HIPPO-AWS-IAM-006", "IAM policies do not grant service-wide wildcards on all resources", High, iam, POLICY_HOLDERS, TF_CFN, "No Allow statement with an action such as \"s3:*\" or \"rds:*\" on Resource \"*\"", "Action   = [\"s3:GetObject\", \"s3:PutObject\"]\nResource = \"${aws_s3_bucket.phi.arn}/*\"",
            &["issue 16: service-wide wildcards such as s3:*, ec2:*, rds:* on Resource \"*\"", "Checkov: CKV_AWS_62, CKV_AWS_290", "Prowler: iam_policy_no_full_access_to_service"], iam_006),
        rule!("HIPPO-AWS-IAM-007", "IAM policies do not grant data-read actions on all resources", High, &["164.308(a)(3)(i)", "164.308(a)(4)(ii)(B)", "164.312(a)(1)"], POLICY_HOLDERS, TF_CFN, "No Allow statement with s3:GetObject, secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt or DynamoDB reads (or a pattern covering them, such as s3:Get*) on Resource \"*\" unless a condition narrows the resources", "Action   = [\"s3:GetObject\"]\nResource = \"${aws_s3_bucket.reports.arn}/*\"",
            &["issue 16: read access to every object or secret in the account", "AWS Config: iam-customer-policy-blocked-kms-actions, iam-inline-policy-blocked-kms-actions", "Checkov: CKV_AWS_288"], iam_007),
        rule!("HIPPO-AWS-IAM-008", "IAM policies do not grant permissions management on all resources", High, &["164.308(a)(3)(i)", "164.308(a)(4)(ii)(B)", "164.308(a)(4)(ii)(C)"], POLICY_HOLDERS, TF_CFN, "No Allow statement with iam:Put*Policy, iam:Attach*Policy, iam:CreatePolicyVersion, iam:PassRole, iam:UpdateAssumeRolePolicy or iam:CreateAccessKey on Resource \"*\" without a condition", "Action    = [\"iam:PassRole\"]\nResource  = aws_iam_role.task.arn\nCondition = { StringEquals = { \"iam:PassedToService\" = \"ecs-tasks.amazonaws.com\" } }",
            &["issue 16: privilege escalation through permissions-management actions", "Checkov: CKV_AWS_109, CKV_AWS_289"], iam_008),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_iam_wildcards_case_insensitively() {
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(glob("S3:getobject", "s3:GetObject"));
        assert!(glob("ssm:GetParameter?", "ssm:GetParameters"));
        assert!(glob("iam:*Policy", "iam:PutRolePolicy"));
        assert!(!glob("s3:Put*", "s3:GetObject"));
        assert!(!glob("s3:GetObjectAcl", "s3:GetObject"));
    }

    #[test]
    fn service_wide_and_full_wildcards_are_left_to_the_broader_rules() {
        assert!(!covers_any("s3:*", DATA_READ));
        assert!(!covers_any("*", DATA_READ));
        assert!(covers_any("s3:Get*", DATA_READ));
        assert!(covers_any("iam:Attach*", PERMISSIONS_MANAGEMENT));
        assert!(!covers_any("iam:Get*", PERMISSIONS_MANAGEMENT));
    }

    #[test]
    fn partial_strings_are_never_the_wildcard() {
        let stmt = |res: Val| {
            Node::new(
                1,
                Val::Map(vec![
                    ("Effect".into(), Node::new(1, Val::Str("Allow".into()))),
                    ("Action".into(), Node::new(1, Val::Str("*".into()))),
                    ("Resource".into(), Node::new(1, res)),
                ]),
            )
        };
        let admin = Wanted {
            known: |a| a == "*",
            partial_may_match: false,
        };
        let partial = stmt(Val::Unknown(crate::model::partial_string("var.region")));
        assert!(matches!(
            judge(&[partial], &admin, no_exemption),
            Verdict::Clean
        ));
        let whole = stmt(Val::Unknown("var.resources".into()));
        assert!(matches!(
            judge(&[whole], &admin, no_exemption),
            Verdict::Unresolved(_)
        ));
        let star = stmt(Val::Str("*".into()));
        assert!(matches!(
            judge(&[star], &admin, no_exemption),
            Verdict::Grants(_)
        ));
    }
}
