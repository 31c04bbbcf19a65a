"""Hand-written classification of Checkov 3.3.30 checks for scripts/checkov-compare.py.

Checkov's open-source release has no HIPAA mapping, so this is the project's own judgement,
one entry per check id seen failing on the compared trees:

- HIPAA_MAP: the check guards a HIPAA safeguard; the hippo check rules that judge the same
  setting (a Checkov failure counts as reported when one of them fires on the same resource).
- COVERED: HIPAA-relevant, but hippo check deliberately judges it differently; the reason.
- GAPS: HIPAA-relevant and hippo check has no rule for it; resource type and attribute, so a
  rule writer can pick it up (also listed in docs/checkov-gaps.md).
- NOT_HIPAA: the check is not a HIPAA safeguard; the reason.

A check id in none of the tables is printed as UNCLASSIFIED by the script: classify it here.
"""

SECRET_RULES = ["HIPPO-SECRET-001", "HIPPO-SECRET-002", "HIPPO-SECRET-003", "HIPPO-SECRET-004",
                "HIPPO-SECRET-005", "HIPPO-K8S-005", "HIPPO-K8S-009", "HIPPO-DOCKER-003",
                "HIPPO-AWS-LAMBDA-002", "HIPPO-AWS-ECS-001", "HIPPO-TF-002"]
IAM_PRIVILEGE_RULES = ["HIPPO-AWS-IAM-001", "HIPPO-AWS-IAM-006"]

HIPAA_MAP = {
    # RDS and Aurora
    "CKV_AWS_16": ["HIPPO-AWS-RDS-001"], "CKV_AWS_17": ["HIPPO-AWS-RDS-003"],
    "CKV_AWS_96": ["HIPPO-AWS-RDS-001"], "CKV_AWS_118": ["HIPPO-AWS-RDS-011"], "CKV_AWS_354": ["HIPPO-AWS-RDS-014"],
    "CKV_AWS_129": ["HIPPO-AWS-RDS-006"], "CKV_AWS_324": ["HIPPO-AWS-RDS-006"],
    "CKV_AWS_161": ["HIPPO-AWS-RDS-013"], "CKV_AWS_162": ["HIPPO-AWS-RDS-013"],
    "CKV_AWS_226": ["HIPPO-AWS-RDS-010"], "CKV_AWS_157": ["HIPPO-AWS-RDS-004"],
    "CKV_AWS_133": ["HIPPO-AWS-RDS-005"], "CKV_AWS_293": ["HIPPO-AWS-RDS-007"],
    "CKV_AWS_139": ["HIPPO-AWS-RDS-007"], "CKV_AWS_327": ["HIPPO-AWS-RDS-002"],
    "CKV2_AWS_30": ["HIPPO-AWS-RDS-009", "HIPPO-AWS-RDS-008"],
    "CKV2_AWS_27": ["HIPPO-AWS-RDS-009", "HIPPO-AWS-RDS-006"],
    # S3
    "CKV_AWS_18": ["HIPPO-AWS-S3-005"], "CKV_AWS_21": ["HIPPO-AWS-S3-004"],
    "CKV_AWS_19": ["HIPPO-AWS-S3-001"], "CKV_AWS_144": ["HIPPO-AWS-S3-011"],
    "CKV_AWS_145": ["HIPPO-AWS-S3-002", "HIPPO-AWS-S3-001"], "CKV_AWS_186": ["HIPPO-AWS-S3-012"],
    "CKV2_AWS_61": ["HIPPO-AWS-S3-006"], "CKV2_AWS_6": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_53": ["HIPPO-AWS-S3-003"], "CKV_AWS_54": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_55": ["HIPPO-AWS-S3-003"], "CKV_AWS_56": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_20": ["HIPPO-AWS-S3-009"], "CKV_AWS_57": ["HIPPO-AWS-S3-009"],
    "CKV_AWS_70": ["HIPPO-AWS-S3-003", "HIPPO-AWS-S3-009"],
    # KMS, CloudTrail, CloudWatch
    "CKV_AWS_7": ["HIPPO-AWS-KMS-001"], "CKV_AWS_33": ["HIPPO-AWS-KMS-003"],
    "CKV2_AWS_10": ["HIPPO-AWS-CT-004"], "CKV_AWS_35": ["HIPPO-AWS-CT-003"],
    "CKV_AWS_36": ["HIPPO-AWS-CT-002"], "CKV_AWS_67": ["HIPPO-AWS-CT-001"],
    "CKV_AWS_338": ["HIPPO-AWS-CW-001"], "CKV_AWS_66": ["HIPPO-AWS-CW-001"],
    "CKV_AWS_158": ["HIPPO-AWS-CW-002"],
    # Network
    "CKV_AWS_24": ["HIPPO-AWS-NET-002"], "CKV_AWS_25": ["HIPPO-AWS-NET-002"],
    "CKV_AWS_277": ["HIPPO-AWS-NET-003"], "CKV2_AWS_11": ["HIPPO-AWS-NET-005"],
    "CKV2_AWS_12": ["HIPPO-AWS-NET-006"], "CKV_AWS_130": ["HIPPO-AWS-NET-007"],
    "CKV_AWS_88": ["HIPPO-AWS-NET-008"],
    # Load balancers, WAF
    "CKV_AWS_131": ["HIPPO-AWS-ELB-004"], "CKV_AWS_91": ["HIPPO-AWS-ELB-003"],
    "CKV_AWS_92": ["HIPPO-AWS-ELB-007"], "CKV_AWS_378": ["HIPPO-AWS-ELB-008"],
    "CKV_AWS_86": ["HIPPO-AWS-CF-001"], "CKV_AWS_103": ["HIPPO-AWS-ELB-001"],
    "CKV_AWS_2": ["HIPPO-AWS-ELB-002"], "CKV_AWS_150": ["HIPPO-AWS-ELB-006"],
    "CKV2_AWS_20": ["HIPPO-AWS-ELB-002"], "CKV_AWS_127": ["HIPPO-AWS-ELB-005"],
    "CKV2_AWS_28": ["HIPPO-AWS-WAF-001"],
    # Secrets Manager, Lambda, ECR, EKS, EC2/EBS, ElastiCache, DynamoDB, SNS, Kinesis, Backup
    "CKV2_AWS_57": ["HIPPO-AWS-SM-002"], "CKV_AWS_149": ["HIPPO-AWS-SM-001"],
    "CKV_AWS_173": ["HIPPO-AWS-LAMBDA-003"], "CKV_AWS_45": ["HIPPO-AWS-LAMBDA-002"],
    "CKV_AWS_301": ["HIPPO-AWS-LAMBDA-001"],
    "CKV_AWS_136": ["HIPPO-AWS-ECR-003"], "CKV_AWS_51": ["HIPPO-AWS-ECR-002"],
    "CKV_AWS_163": ["HIPPO-AWS-ECR-001"],
    "CKV_AWS_58": ["HIPPO-AWS-EKS-003"], "CKV_AWS_37": ["HIPPO-AWS-EKS-002"],
    "CKV_AWS_39": ["HIPPO-AWS-EKS-001"], "CKV_AWS_38": ["HIPPO-AWS-EKS-001"],
    "CKV_AWS_8": ["HIPPO-AWS-EC2-001"], "CKV_AWS_79": ["HIPPO-AWS-EC2-002"],
    "CKV_AWS_3": ["HIPPO-AWS-EBS-001"], "CKV_AWS_189": ["HIPPO-AWS-EBS-002"],
    "CKV_AWS_106": ["HIPPO-AWS-EBS-003"],
    "CKV_AWS_29": ["HIPPO-AWS-ELC-001"], "CKV_AWS_30": ["HIPPO-AWS-ELC-002"],
    "CKV_AWS_31": ["HIPPO-AWS-ELC-002"], "CKV_AWS_191": ["HIPPO-AWS-ELC-004"],
    "CKV_AWS_28": ["HIPPO-AWS-DDB-001"], "CKV_AWS_119": ["HIPPO-AWS-DDB-002"],
    "CKV_AWS_26": ["HIPPO-AWS-SNS-001"], "CKV_AWS_27": ["HIPPO-AWS-SQS-001"],
    "CKV_AWS_241": ["HIPPO-AWS-FH-001"], "CKV_AWS_337": ["HIPPO-AWS-SSM-001"], "CKV_AWS_43": ["HIPPO-AWS-KIN-001"],
    "CKV_AWS_185": ["HIPPO-AWS-KIN-001"], "CKV_AWS_166": ["HIPPO-AWS-BAK-002"],
    "CKV_AWS_42": ["HIPPO-AWS-EFS-001"], "CKV_AWS_184": ["HIPPO-AWS-EFS-001"],
    "CKV_AWS_64": ["HIPPO-AWS-RS-001"], "CKV_AWS_87": ["HIPPO-AWS-RS-002"],
    "CKV_AWS_71": ["HIPPO-AWS-RS-003"], "CKV_AWS_76": ["HIPPO-AWS-APIGW-001"],
    "CKV_AWS_5": ["HIPPO-AWS-OS-001"], "CKV_AWS_83": ["HIPPO-AWS-OS-002"],
    "CKV_AWS_6": ["HIPPO-AWS-OS-002"], "CKV_AWS_84": ["HIPPO-AWS-OS-004"],
    "CKV_AWS_137": ["HIPPO-AWS-OS-003"], "CKV_AWS_248": ["HIPPO-AWS-OS-003"],
    "CKV_AWS_44": ["HIPPO-AWS-NEP-001"], "CKV_AWS_101": ["HIPPO-AWS-NEP-003"],
    # IAM
    "CKV_AWS_40": ["HIPPO-AWS-IAM-002"], "CKV_AWS_274": ["HIPPO-AWS-IAM-001"],
    "CKV_AWS_62": ["HIPPO-AWS-IAM-001"], "CKV_AWS_63": IAM_PRIVILEGE_RULES,
    "CKV_AWS_1": ["HIPPO-AWS-IAM-001"], "CKV_AWS_49": ["HIPPO-AWS-IAM-001"],
    "CKV_AWS_286": IAM_PRIVILEGE_RULES, "CKV_AWS_287": IAM_PRIVILEGE_RULES,
    "CKV_AWS_288": IAM_PRIVILEGE_RULES + ["HIPPO-AWS-IAM-007"],
    "CKV_AWS_289": IAM_PRIVILEGE_RULES + ["HIPPO-AWS-IAM-008"],
    "CKV_AWS_290": IAM_PRIVILEGE_RULES, "CKV_AWS_109": IAM_PRIVILEGE_RULES + ["HIPPO-AWS-IAM-008"],
    "CKV_AWS_110": IAM_PRIVILEGE_RULES, "CKV_AWS_111": IAM_PRIVILEGE_RULES,
    "CKV_AWS_107": IAM_PRIVILEGE_RULES, "CKV_AWS_108": IAM_PRIVILEGE_RULES,
    "CKV_AWS_355": IAM_PRIVILEGE_RULES, "CKV_AWS_356": IAM_PRIVILEGE_RULES,
    "CKV_AWS_41": ["HIPPO-SECRET-001"],
    "CKV_AWS_46": SECRET_RULES, "CKV_AWS_10": ["HIPPO-AWS-IAM-004"], "CKV_AWS_9": ["HIPPO-AWS-IAM-004"],
    "CKV_AWS_11": ["HIPPO-AWS-IAM-004"], "CKV_AWS_12": ["HIPPO-AWS-IAM-004"],
    "CKV_AWS_13": ["HIPPO-AWS-IAM-004"], "CKV_AWS_14": ["HIPPO-AWS-IAM-004"],
    "CKV_AWS_15": ["HIPPO-AWS-IAM-004"],
    # Docker
    "CKV_DOCKER_3": ["HIPPO-DOCKER-001"], "CKV_DOCKER_7": ["HIPPO-DOCKER-002"],
    "CKV_DOCKER_8": ["HIPPO-DOCKER-001"],
    # Kubernetes
    "CKV_K8S_14": ["HIPPO-K8S-007"], "CKV_K8S_16": ["HIPPO-K8S-002"],
    "CKV_K8S_17": ["HIPPO-K8S-006"], "CKV_K8S_18": ["HIPPO-K8S-006"], "CKV_K8S_19": ["HIPPO-K8S-006"],
    "CKV_K8S_20": ["HIPPO-K8S-003"], "CKV_K8S_22": ["HIPPO-K8S-004"],
    "CKV_K8S_23": ["HIPPO-K8S-001"], "CKV_K8S_28": ["HIPPO-K8S-010"],
    "CKV_K8S_37": ["HIPPO-K8S-010"], "CKV_K8S_39": ["HIPPO-K8S-010"],
    "CKV_K8S_25": ["HIPPO-K8S-018"], "CKV_K8S_6": ["HIPPO-K8S-001"],
    "CKV_K8S_29": ["HIPPO-K8S-001", "HIPPO-K8S-003", "HIPPO-K8S-012"],
    "CKV_K8S_30": ["HIPPO-K8S-001", "HIPPO-K8S-003", "HIPPO-K8S-004", "HIPPO-K8S-010"],
    "CKV_K8S_31": ["HIPPO-K8S-012"], "CKV_K8S_32": ["HIPPO-K8S-012"],
    "CKV_K8S_38": ["HIPPO-K8S-013"], "CKV_K8S_41": ["HIPPO-K8S-013"],
    "CKV2_K8S_6": ["HIPPO-K8S-011"],
    "CKV_K8S_49": ["HIPPO-K8S-014"], "CKV_K8S_155": ["HIPPO-K8S-014"],
    "CKV_K8S_156": ["HIPPO-K8S-014"], "CKV_K8S_157": ["HIPPO-K8S-014"],
    "CKV_K8S_158": ["HIPPO-K8S-014"], "CKV2_K8S_5": ["HIPPO-K8S-014", "HIPPO-K8S-015"],
    "CKV_K8S_27": ["HIPPO-K8S-017"],
    # Secrets scanning
    "CKV_SECRET_2": SECRET_RULES, "CKV_SECRET_4": SECRET_RULES, "CKV_SECRET_6": SECRET_RULES,
    "CKV_SECRET_9": SECRET_RULES, "CKV_SECRET_13": SECRET_RULES, "CKV_SECRET_14": SECRET_RULES,
    "CKV_SECRET_19": SECRET_RULES,
}

# HIPAA-relevant checks that hippo check judges differently on purpose (reported as "covered
# differently" when no mapped rule fired on the resource).
COVERED = {
    "CKV_AWS_226": "auto_minor_version_upgrade unset defaults to true in AWS, CloudFormation and the Terraform "
                   "provider; HIPPO-AWS-RDS-010 fails only an explicit false",
    "CKV2_AWS_31": "WAFv2 web ACL logging: the request-level audit trail of a web front end is the load balancer's "
                   "access log (HIPPO-AWS-ELB-003); WAF logs add blocked-request detail, not ePHI access records",
    "CKV2_AWS_27": "Checkov needs both log_statement and log_min_duration_statement in the cluster parameter group; the "
                   "second is slow-query logging (performance). HIPPO-AWS-RDS-009 judges the audit settings: connection "
                   "and disconnection logging and statement (DDL) or pgaudit logging, which this cluster's group sets, "
                   "with the postgresql log exported",
    "CKV2_AWS_12": "the VPC declares no aws_default_security_group; AWS's default group admits traffic only from its own "
                   "members, so nothing is exposed unless a resource is attached to it (HIPPO-AWS-NET-004 judges "
                   "attached groups); a declared default group with rules is HIPPO-AWS-NET-006",
    "CKV_K8S_29": "Checkov wants a pod-level securityContext; hippo check judges the settings themselves (non-root "
                  "HIPPO-K8S-001, no privilege escalation 003, seccomp 012, capabilities 010) wherever they are set, "
                  "and these containers set them all at container level",
    "CKV_AWS_290": "write action on Resource \"*\" (here logs:PutLogEvents, sqs:SendMessage, EBS CSI driver and Velero "
                   "snapshot actions, KMS key policies): hippo check fails administrator access (HIPPO-AWS-IAM-001) and "
                   "service-wide wildcards (HIPPO-AWS-IAM-006), not every unscoped write; data reads on \"*\" are "
                   "HIPPO-AWS-IAM-007 and permissions management on \"*\" HIPPO-AWS-IAM-008",
    "CKV_AWS_355": "restrictable action on Resource \"*\": same judgement as CKV_AWS_290",
    "CKV_AWS_111": "write action on Resource \"*\": here only in KMS key policy documents, where \"*\" means the key itself",
    "CKV_AWS_356": "restrictable action on Resource \"*\": here in KMS key policy documents (\"*\" means the key itself) "
                   "and a read-only DKIM audit policy (ses:Get*/List*)",
    "CKV_AWS_109": "permissions management on Resource \"*\": here only the account-root kms:* statement of KMS key "
                   "policies, which is AWS's default key policy (a key policy open to any principal is "
                   "HIPPO-AWS-KMS-003); in identity policies the same check is HIPPO-AWS-IAM-008",
    "CKV_K8S_35": "a secretKeyRef environment variable is a reference to a Secret, not a literal; literal secrets in "
                  "env are HIPPO-K8S-005, inline Secret data HIPPO-K8S-009; file vs env mounting is hardening",
}

# HIPAA-relevant checks without a hippo check rule: real misses (copied to docs/checkov-gaps.md, which also
# records the gaps closed since, and by which rules).
GAPS = {
    "CKV2_GHA_1": {"resource": "GitHub Actions workflow", "attribute": "top-level permissions: write-all",
                   "why": "issue 16 item 3 (pipeline as code): least-privilege permissions"},
}

NOT_HIPAA = {
    # Tagging, documentation, cost, performance, availability
    "CKV_AWS_23": "security group description (documentation)",
    "CKV2_AWS_60": "copy tags to snapshots (tagging)", "CKV_AWS_313": "copy tags to snapshots (tagging)",
    "CKV2_AWS_62": "S3 event notifications (operations)",
    "CKV_AWS_252": "CloudTrail SNS topic (notification plumbing)",
    "CKV_AWS_353": "RDS performance insights (performance)",
    "CKV2_AWS_64": "explicit KMS key policy (the default policy delegates to IAM; an over-broad policy is HIPPO-AWS-KMS-003)",
    "CKV2_AWS_19": "Elastic IP attached to an instance (cost hygiene)",
    "CKV2_AWS_5": "security group attached to a resource (hygiene; an unattached group exposes nothing)",
    "CKV_AWS_115": "Lambda reserved concurrency (capacity)",
    "CKV_AWS_116": "Lambda dead-letter queue (reliability)",
    "CKV_AWS_117": "Lambda inside a VPC (Lambda is HIPAA-eligible outside a VPC; data-store exposure is judged on the stores)",
    "CKV_AWS_126": "EC2 detailed (1-minute) monitoring (metrics granularity)",
    "CKV_AWS_135": "EBS-optimised instance (performance)",
    "CKV_AWS_300": "S3 lifecycle aborts failed multipart uploads (cost)",
    "CKV_AWS_310": "CloudFront origin failover (availability)",
    "CKV_AWS_374": "CloudFront geo restriction (business policy, not a safeguard)",
    "CKV_AWS_386": "AMI name-confusion filter (supply chain of images, not ePHI)",
    "CKV_AWS_394": "availability-zone data source pinning (plan stability)",
    "CKV_TF_1": "module source pinned by commit hash (supply chain hygiene; registry versions are pinned too)",
    "CKV_TF_2": "module source pinned by tag (supply chain hygiene)",
    "CKV2_AWS_32": "CloudFront response headers policy (browser hardening headers; transit encryption is the viewer protocol policy)",
    "CKV2_AWS_38": "Route 53 DNSSEC (DNS integrity, no ePHI)",
    "CKV2_AWS_39": "Route 53 query logging (DNS lookups are not access to ePHI)",
    "CKV2_AWS_47": "WAF managed rule for Log4j (vulnerability-specific rule choice)",
    "CKV_AWS_192": "WAF rule for Log4j (vulnerability-specific rule choice)",
    "CKV_AWS_175": "WAF web ACL has rules (rule content; association with internet-facing ALBs is HIPPO-AWS-WAF-001)",
    "CKV_AWS_260": "port 80 open to the world (public HTTP on a front end is normal; HTTP must redirect to HTTPS, HIPPO-AWS-ELB-002)",
    "CKV_AWS_382": "egress to 0.0.0.0/0 on all ports (AWS's default egress; ingress exposure is NET-001..004)",
    "CKV_AWS_273": "access through SSO rather than IAM users (identity-provider choice; an IAM user is still a unique user, 164.312(a)(2)(i); keys in code are HIPPO-AWS-IAM-003)",
    # Docker
    "CKV_DOCKER_2": "HEALTHCHECK instruction (availability)",
    # Kubernetes
    "CKV_K8S_8": "liveness probe (availability)", "CKV_K8S_9": "readiness probe (availability)",
    "CKV_K8S_10": "CPU requests (capacity)", "CKV_K8S_11": "CPU limits (capacity)",
    "CKV_K8S_12": "memory requests (capacity)", "CKV_K8S_13": "memory limits (capacity)",
    "CKV_K8S_15": "image pull policy Always (supply chain hygiene; pinning is HIPPO-K8S-007)",
    "CKV_K8S_21": "default namespace (organisation)",
    "CKV_K8S_26": "hostPort (scheduling hygiene; what is reachable is decided by NetworkPolicy, HIPPO-K8S-011)",
    "CKV_K8S_40": "UID above 10000 (non-root is HIPPO-K8S-001)",
    "CKV_K8S_43": "image digest (pinned version tags are accepted by HIPPO-K8S-007)",
    # GitHub Actions (hippo check does not read workflows yet: issue 16 item 3)
    "CKV_GHA_7": "workflow_dispatch inputs can change the build (SLSA build integrity, not an ePHI safeguard)",
    "CKV_GHA_3": "curl with a secret in a step (here: Slack webhook notifications, the secret's intended use)",
}

# Single findings whose verdict differs from their check's: (check id, file) -> (verdict, reason).
INSTANCE_NOTES = {
    ("CKV_SECRET_6", "examples/demo/private-registry/buildConfig.yaml"): (
        "not-hipaa", "false positive: the flagged value `secret-registry-key` is the name of a Secret, not a secret"),
}
