//! Benchmark corpus generator: `cargo run --example gen_tree -- OUT_DIR FILES`.
//! Writes a deterministic mix of Terraform (40%), CloudFormation (20%), Kubernetes (25%)
//! and Dockerfiles (15%), about half of them with HIPAA misconfigurations.

use std::fs;
use std::path::Path;

fn terraform(i: usize, bad: bool) -> String {
    let enc = if bad { "false" } else { "true" };
    let cidr = if bad { "0.0.0.0/0" } else { "10.0.0.0/16" };
    let rot = if bad { "false" } else { "true" };
    let ret = if bad { 7 } else { 35 };
    format!(
        r#"variable "env_{i}" {{
  default = "prod"
}}

locals {{
  name_{i} = "phi-${{var.env_{i}}}-{i}"
}}

resource "aws_kms_key" "k{i}" {{
  description         = "key {i}"
  enable_key_rotation = {rot}
}}

resource "aws_s3_bucket" "b{i}" {{
  bucket = local.name_{i}
}}

resource "aws_s3_bucket_public_access_block" "b{i}" {{
  bucket                  = aws_s3_bucket.b{i}.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = {enc}
}}

resource "aws_s3_bucket_server_side_encryption_configuration" "b{i}" {{
  bucket = aws_s3_bucket.b{i}.id
  rule {{
    apply_server_side_encryption_by_default {{
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.k{i}.arn
    }}
  }}
}}

resource "aws_security_group" "db{i}" {{
  name = "db-{i}"
  ingress {{
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = ["{cidr}"]
  }}
}}

resource "aws_db_instance" "db{i}" {{
  identifier              = "db-{i}"
  engine                  = "postgres"
  instance_class          = "db.t3.medium"
  storage_encrypted       = {enc}
  kms_key_id              = aws_kms_key.k{i}.arn
  publicly_accessible     = {bad}
  multi_az                = true
  backup_retention_period = {ret}
  deletion_protection     = true
  vpc_security_group_ids  = [aws_security_group.db{i}.id]
}}

resource "aws_cloudwatch_log_group" "l{i}" {{
  name              = "/ecs/app-{i}"
  retention_in_days = {days}
  kms_key_id        = aws_kms_key.k{i}.arn
}}

resource "aws_cloudtrail" "t{i}" {{
  name                       = "trail-{i}"
  s3_bucket_name             = aws_s3_bucket.b{i}.id
  is_multi_region_trail      = {rot}
  enable_log_file_validation = {rot}
  kms_key_id                 = aws_kms_key.k{i}.arn
}}
"#,
        days = if bad { 30 } else { 2192 }
    )
}

fn cloudformation(i: usize, bad: bool) -> String {
    let enc = if bad { "false" } else { "true" };
    let cidr = if bad { "0.0.0.0/0" } else { "10.0.0.0/16" };
    format!(
        r#"AWSTemplateFormatVersion: "2010-09-09"
Description: service {i}
Parameters:
  Env:
    Type: String
    Default: prod
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: {enc}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "phi-${{Env}}-{i}"
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
              KMSMasterKeyID: !GetAtt Key.Arn
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: {enc}
      VersioningConfiguration:
        Status: Enabled
  DbSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: db
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 5432
          ToPort: 5432
          CidrIp: {cidr}
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      DBInstanceClass: db.t3.medium
      StorageEncrypted: {enc}
      KmsKeyId: !Ref Key
      MultiAZ: true
      BackupRetentionPeriod: 35
      DeletionProtection: true
      VPCSecurityGroups:
        - !GetAtt DbSg.GroupId
"#
    )
}

fn kubernetes(i: usize, bad: bool) -> String {
    let sc = if bad {
        "        securityContext:\n          privileged: true\n".to_string()
    } else {
        "        securityContext:\n          runAsNonRoot: true\n          allowPrivilegeEscalation: false\n          readOnlyRootFilesystem: true\n".to_string()
    };
    let image = if bad {
        "app:latest".to_string()
    } else {
        format!("registry.example.com/app:1.{i}.0")
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: phi\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n{sc}        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

fn dockerfile(i: usize, bad: bool) -> String {
    if bad {
        format!("FROM node:latest\nWORKDIR /app\nCOPY . .\nRUN npm ci --only=production\nEXPOSE 8080\nCMD [\"node\", \"dist/main{i}.js\"]\n")
    } else {
        format!("FROM node:20.11-alpine3.19\nRUN addgroup -g 1001 -S nodejs && adduser -S nodejs -u 1001\nUSER nodejs\nWORKDIR /app\nCOPY --chown=nodejs:nodejs . .\nRUN npm ci --only=production\nEXPOSE 8080\nCMD [\"node\", \"dist/main{i}.js\"]\n")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(args.get(1).map(String::as_str).unwrap_or("bench-tree"));
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    for i in 0..n {
        let dir = out.join(format!("svc{:04}", i / 10));
        fs::create_dir_all(&dir).expect("create dir");
        let bad = i % 2 == 0;
        let (name, body) = match i % 20 {
            0..=7 => (format!("main_{i}.tf"), terraform(i, bad)),
            8..=11 => (format!("stack_{i}.yaml"), cloudformation(i, bad)),
            12..=16 => (format!("k8s_{i}.yaml"), kubernetes(i, bad)),
            _ => (format!("Dockerfile.{i}"), dockerfile(i, bad)),
        };
        fs::write(dir.join(name), body).expect("write file");
    }
    println!("wrote {n} files to {}", out.display());
}
