//! Network rules: security groups open to the world, flow logs, public IPs, default SG.

use super::helpers::*;
use super::{Hit, Index, Kind, Msg, Rule, Severity, TF, TF_CFN};
use crate::model::{Node, Resource, Tri, Val};

pub const DB_PORTS: &[u32] = &[5432, 3306, 1433, 1521, 27017, 6379, 5439, 9200, 11211, 5984];
const SG_TYPES: &[&str] = &[
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
];

/// A normalised ingress rule.
pub struct Ingress {
    pub line: u32,
    pub world: bool,
    /// What a source CIDR depends on, if it cannot be resolved statically.
    pub unknown_cidr: Option<String>,
    pub from: Option<u32>,
    pub to: Option<u32>,
    pub all_protocols: bool,
}

impl Ingress {
    pub fn covers(&self, port: u32) -> bool {
        match (self.from, self.to) {
            _ if self.all_protocols => true,
            (Some(f), Some(t)) => {
                (f == 0 && t == 0) || (f <= port && port <= t) || (f == 0 && t == 65535)
            }
            _ => true,
        }
    }
}

/// Resource types whose address range, used as a CIDR source, is the VPC's own: a reference
/// to one (`aws_vpc.main.cidr_block`, `!GetAtt Vpc.CidrBlock`) is a private source that
/// is known statically, not an undeterminable one.
const OWN_NETWORK: &[&str] = &["aws_vpc", "aws_subnet", "data.aws_vpc", "data.aws_subnet"];

fn own_network(n: &Node, idx: &Index) -> bool {
    match &n.val {
        Val::Ref(a) => idx
            .get(a)
            .is_some_and(|t| OWN_NETWORK.contains(&t.rtype.as_str())),
        _ => false,
    }
}

fn one(n: &Node, fallback_line: u32, idx: &Index) -> Ingress {
    let cidrs: Vec<&Node> = [
        "cidr_blocks",
        "ipv6_cidr_blocks",
        "cidr_ipv4",
        "cidr_ipv6",
        "CidrIp",
        "CidrIpv6",
    ]
    .iter()
    .filter_map(|k| n.get(k))
    .collect();
    let mut world = false;
    let mut unknown_cidr = None;
    for c in &cidrs {
        let unresolved = |x: &Node| x.is_unknown() && !own_network(x, idx);
        let first = match &c.val {
            Val::List(items) => items.iter().find(|x| unresolved(x)),
            _ => Some(*c).filter(|x| unresolved(x)),
        };
        if let Some(x) = first {
            unknown_cidr.get_or_insert_with(|| unresolvable(x).unwrap_or_default());
        }
        world |= strings(Some(c))
            .iter()
            .any(|s| s == "0.0.0.0/0" || s == "::/0");
    }
    let proto = n.get_any(&["protocol", "ip_protocol", "IpProtocol"]);
    let all_protocols = proto.is_some_and(|p| {
        matches!(p.as_str(), Some("-1") | Some("all")) || p.as_num() == Some(-1.0)
    });
    let port = |k: &[&str]| {
        n.get_any(k)
            .and_then(Node::as_num)
            .map(|v| v.max(0.0) as u32)
    };
    Ingress {
        line: if n.line > 0 { n.line } else { fallback_line },
        world,
        unknown_cidr,
        from: port(&["from_port", "FromPort"]),
        to: port(&["to_port", "ToPort"]),
        all_protocols,
    }
}

/// Ingress rules of a security group resource or standalone rule resource.
pub fn ingress_rules(r: &Resource, idx: &Index) -> Vec<Ingress> {
    match r.rtype.as_str() {
        "aws_security_group" => r
            .get_any(&["ingress", "SecurityGroupIngress"])
            .map(|i| i.items().into_iter().map(|x| one(x, r.line, idx)).collect())
            .unwrap_or_default(),
        "aws_security_group_rule" => {
            if r.get("type").and_then(Node::as_str) != Some("ingress") {
                return vec![];
            }
            vec![one(&r.body, r.line, idx)]
        }
        "aws_vpc_security_group_ingress_rule" => vec![one(&r.body, r.line, idx)],
        _ => vec![],
    }
}

fn world_to(r: &Resource, idx: &Index, ports: &[u32], what: &str) -> Vec<Hit> {
    let mut out = Vec::new();
    for i in ingress_rules(r, idx) {
        if i.all_protocols {
            continue;
        }
        if let Some(p) = ports.iter().find(|p| i.covers(**p)) {
            if i.world {
                out.extend(hit(
                    i.line,
                    format!("ingress from 0.0.0.0/0 (or ::/0) to {what} port {p}"),
                ));
            } else if let Some(source) = &i.unknown_cidr {
                // Whether the source is the world is unknowable here: info, naming it.
                out.extend(hit(
                    i.line,
                    Msg {
                        text: format!(
                            "ingress to {what} port {p} from a source CIDR that cannot be determined statically ({source}); check it once the value is known"
                        ),
                        unresolved: true,
                    },
                ));
            }
        }
    }
    out
}

fn net_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    world_to(r, idx, DB_PORTS, "database")
}

fn net_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    world_to(r, idx, &[22, 3389], "remote administration")
}

fn net_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    ingress_rules(r, idx)
        .into_iter()
        .filter(|i| i.world && (i.all_protocols || (i.from == Some(0) && i.to == Some(65535))))
        .flat_map(|i| hit(i.line, "ingress from 0.0.0.0/0 on all ports/protocols"))
        .collect()
}

/// Security groups (and their standalone rules) that open a DB port to the world.
fn world_open_db_group<'a>(idx: &Index<'a>, sg: &Resource) -> bool {
    // Only a source known to be the world counts; an unresolved one is NET-001's info.
    let open = |r: &Resource| {
        world_to(r, idx, DB_PORTS, "database")
            .iter()
            .any(|h| !h.unresolved)
    };
    if open(sg) {
        return true;
    }
    [
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
    ]
    .iter()
    .any(|t| {
        referrers(
            idx,
            t,
            &["security_group_id", "GroupId"],
            sg,
            &["id", "name"],
        )
        .iter()
        .any(|rule| open(rule))
    })
}

fn net_004(db: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(sgs) = db.get_any(&[
        "vpc_security_group_ids",
        "VPCSecurityGroups",
        "VpcSecurityGroupIds",
    ]) else {
        return vec![];
    };
    for sg in idx.resolve(sgs, "aws_security_group") {
        if world_open_db_group(idx, sg) {
            return hit(
                sgs.line,
                format!(
                    "attached security group {} allows the world to reach a database port",
                    sg.name
                ),
            );
        }
    }
    vec![]
}

fn net_005(vpc: &Resource, idx: &Index) -> Vec<Hit> {
    if referrers(idx, "aws_flow_log", &["vpc_id", "ResourceId"], vpc, &["id"]).is_empty() {
        return hit(vpc.line, "no VPC flow log is configured for this VPC");
    }
    vec![]
}

fn net_006(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["ingress", "egress"]) {
        Some(n) => hit(
            n.line,
            "the default security group allows traffic; it must have no rules",
        ),
        None => vec![],
    }
}

fn net_007(r: &Resource, _: &Index) -> Vec<Hit> {
    require_not_true(r, &["map_public_ip_on_launch"])
}

fn net_008(r: &Resource, _: &Index) -> Vec<Hit> {
    // Terraform/launch configuration: top level or `network_interfaces`; CloudFormation
    // instance: `NetworkInterfaces`; launch template: `LaunchTemplateData.NetworkInterfaces`.
    let body = r.get("LaunchTemplateData").unwrap_or(&r.body);
    let setting = body
        .get("associate_public_ip_address")
        .or_else(|| body.path(&["network_interfaces", "associate_public_ip_address"]));
    match setting {
        Some(n) if n.truth() == Tri::No => vec![],
        Some(n) if n.truth() == Tri::Yes => hit(n.line, "the instance gets a public IP address"),
        Some(n) => hit(n.line, unknown_msg("associate_public_ip_address", n)),
        None => vec![],
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-NET-001", title: "No security group opens a database port to the world", severity: Severity::Critical, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: SG_TYPES, formats: TF_CFN,
            expected: "Database ports (5432, 3306, 1433, 1521, 27017, 6379, 5439, 9200, 11211, 5984) reachable only from application security groups", remediation: "ingress {\n  from_port       = 5432\n  to_port         = 5432\n  protocol        = \"tcp\"\n  security_groups = [aws_security_group.ecs.id]\n}",
            sources: &["seed 001: Never allow 0.0.0.0/0 to RDS; Port 5432 from ECS Security Group ONLY", "AWS Config: restricted-common-ports", "Prowler: ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_*", "gap: Checkov has no world-open database-port check"], kind: Kind::Resource(net_001) },
        Rule { id: "HIPPO-AWS-NET-002", title: "No security group opens SSH or RDP to the world", severity: Severity::High, hipaa: &["164.312(a)(1)"], types: SG_TYPES, formats: TF_CFN,
            expected: "Ports 22 and 3389 not reachable from 0.0.0.0/0 or ::/0", remediation: "Use SSM Session Manager instead of inbound SSH; remove the 0.0.0.0/0 ingress rule",
            sources: &["seed 000: Overly permissive security groups", "AWS Config: restricted-ssh, restricted-common-ports", "Prowler: ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"], kind: Kind::Resource(net_002) },
        Rule { id: "HIPPO-AWS-NET-003", title: "No security group allows all traffic from the world", severity: Severity::High, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: SG_TYPES, formats: TF_CFN,
            expected: "No 0.0.0.0/0 ingress with protocol -1 or ports 0-65535", remediation: "Restrict ingress to the needed port and source security group",
            sources: &["seed 001: Security groups follow least privilege", "Prowler: ec2_securitygroup_allow_ingress_from_internet_to_all_ports"], kind: Kind::Resource(net_003) },
        Rule { id: "HIPPO-AWS-NET-004", title: "Database is not attached to a world-open security group", severity: Severity::Critical, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: &["aws_db_instance", "aws_rds_cluster"], formats: TF_CFN,
            expected: "No security group in vpc_security_group_ids opens a database port to 0.0.0.0/0", remediation: "vpc_security_group_ids = [aws_security_group.rds.id]  # ingress only from the ECS security group",
            sources: &["seed 001: RDS Security Group inbound 5432 from ECS only (cross-resource)"], kind: Kind::Resource(net_004) },
        Rule { id: "HIPPO-AWS-NET-005", title: "VPC flow logs are enabled", severity: Severity::Medium, hipaa: &["164.312(b)", "164.308(a)(1)(ii)(D)"], types: &["aws_vpc"], formats: TF_CFN,
            expected: "An aws_flow_log (AWS::EC2::FlowLog) references the VPC", remediation: "resource \"aws_flow_log\" \"vpc\" {\n  vpc_id          = aws_vpc.main.id\n  traffic_type    = \"ALL\"\n  log_destination = aws_cloudwatch_log_group.flow.arn\n  iam_role_arn    = aws_iam_role.flow.arn\n}",
            sources: &["seed 002: VPC Flow Logs", "seed 003: VPC flow log retention", "AWS Config: vpc-flow-logs-enabled", "Prowler: vpc_flow_logs_enabled"], kind: Kind::Resource(net_005) },
        Rule { id: "HIPPO-AWS-NET-006", title: "Default security group has no rules", severity: Severity::Medium, hipaa: &["164.312(a)(1)"], types: &["aws_default_security_group"], formats: TF,
            expected: "aws_default_security_group with no ingress or egress blocks", remediation: "resource \"aws_default_security_group\" \"default\" {\n  vpc_id = aws_vpc.main.id\n}",
            sources: &["AWS Config: vpc-default-security-group-closed", "Prowler: ec2_securitygroup_default_restrict_traffic"], kind: Kind::Resource(net_006) },
        Rule { id: "HIPPO-AWS-NET-007", title: "Subnets do not auto-assign public IPs", severity: Severity::Medium, hipaa: &["164.312(e)(1)"], types: &["aws_subnet"], formats: TF_CFN,
            expected: "map_public_ip_on_launch = false (public subnets hold only load balancers and NAT gateways)", remediation: "map_public_ip_on_launch = false",
            sources: &["seed 001: Private subnets for all PHI workloads", "AWS Config: subnet-auto-assign-public-ip-disabled", "Prowler: vpc_subnet_no_public_ip_by_default"], kind: Kind::Resource(net_007) },
        Rule { id: "HIPPO-AWS-NET-008", title: "EC2 instances have no public IP", severity: Severity::High, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: &["aws_instance", "aws_launch_configuration", "aws_launch_template"], formats: TF_CFN,
            expected: "associate_public_ip_address = false (or unset in a private subnet)", remediation: "associate_public_ip_address = false",
            sources: &["seed 003: Workloads run in private subnets without ad hoc public IPs", "AWS Config: ec2-instance-no-public-ip, autoscaling-launch-config-public-ip-disabled", "Prowler: ec2_instance_public_ip"], kind: Kind::Resource(net_008) },
    ]
}
