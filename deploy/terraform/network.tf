# VPC with three tiers (seed: "Public subnets ONLY for load balancers", "Private subnets for all
# PHI workloads", data subnets without internet access):
#   public   - ALB and NAT gateways only; the only tier routed to the internet gateway
#   private  - ECS tasks and interface endpoints; outbound through NAT, no public IPs
#   database - RDS only; no route out of the VPC at all

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${local.prefix}-vpc"
  }
}

# The default security group of the VPC: no rules at all, so nothing can use it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-default-deny"
  }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-igw"
  }
}

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.public_subnet_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.prefix}-public-${local.azs[count.index]}"
    Tier = "public"
  }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.private_subnet_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.prefix}-private-${local.azs[count.index]}"
    Tier = "private"
  }
}

resource "aws_subnet" "database" {
  count = var.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.db_subnet_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "${local.prefix}-database-${local.azs[count.index]}"
    Tier = "database"
  }
}

# One NAT gateway per AZ, so losing an AZ does not cut the others' outbound path.
resource "aws_eip" "nat" {
  count = var.az_count

  domain = "vpc"

  tags = {
    Name = "${local.prefix}-nat-${local.azs[count.index]}"
  }
}

resource "aws_nat_gateway" "main" {
  count = var.az_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = {
    Name = "${local.prefix}-nat-${local.azs[count.index]}"
  }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-public"
  }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-private-${local.azs[count.index]}"
  }
}

resource "aws_route" "private_nat" {
  count = var.az_count

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main[count.index].id
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# The database tier's table has only the implicit local route: no internet, no NAT.
resource "aws_route_table" "database" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-database"
  }
}

resource "aws_route_table_association" "database" {
  count = var.az_count

  subnet_id      = aws_subnet.database[count.index].id
  route_table_id = aws_route_table.database.id
}

# Network ACL for the database tier (defense in depth behind the security groups): PostgreSQL
# from the private app subnets in, replies to them out, nothing else.
resource "aws_network_acl" "database" {
  vpc_id     = aws_vpc.main.id
  subnet_ids = aws_subnet.database[*].id

  tags = {
    Name = "${local.prefix}-database"
  }
}

resource "aws_network_acl_rule" "database_in_postgres" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  rule_number    = 100 + count.index
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = local.private_subnet_cidrs[count.index]
  from_port      = 5432
  to_port        = 5432
}

# Multi-AZ replication and failover between the database subnets themselves.
resource "aws_network_acl_rule" "database_in_peer" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  rule_number    = 200 + count.index
  egress         = false
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = local.db_subnet_cidrs[count.index]
  from_port      = 0
  to_port        = 0
}

resource "aws_network_acl_rule" "database_out_replies" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  rule_number    = 100 + count.index
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = local.private_subnet_cidrs[count.index]
  from_port      = 1024
  to_port        = 65535
}

resource "aws_network_acl_rule" "database_out_peer" {
  count = var.az_count

  network_acl_id = aws_network_acl.database.id
  rule_number    = 200 + count.index
  egress         = true
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = local.db_subnet_cidrs[count.index]
  from_port      = 0
  to_port        = 0
}

# VPC flow logs: every accepted and rejected flow, to an encrypted log group kept six years.
resource "aws_flow_log" "vpc" {
  vpc_id                   = aws_vpc.main.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.vpc_flow.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60

  tags = {
    Name = "${local.prefix}-vpc-flow"
  }
}

# ---------------------------------------------------------------------------------------------
# Security groups: one rule per resource, every rule names its peer.
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-alb"
  description = "Public ALB: HTTPS (and HTTP only to redirect) in, hippo tasks out"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-alb"
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients; the listener only answers with a 301 to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = "HTTPS to hippo tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "app" {
  name        = "${local.prefix}-app"
  description = "hippo tasks: HTTPS from the ALB; out to PostgreSQL, VPC endpoints and S3 only"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-app"
  }
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "HTTPS from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_db" {
  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL (TLS verify-full) to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_endpoints" {
  security_group_id            = aws_security_group.app.id
  description                  = "HTTPS to interface VPC endpoints (ECR, logs, Secrets Manager, KMS, STS)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_s3" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to S3 through the gateway endpoint (image layers, audit export)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_security_group" "db" {
  name        = "${local.prefix}-db"
  description = "RDS PostgreSQL: 5432 from hippo tasks only; no egress"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-db"
  }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from hippo tasks only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "endpoints" {
  name        = "${local.prefix}-endpoints"
  description = "Interface VPC endpoints: HTTPS from hippo tasks"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-endpoints"
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_app" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from hippo tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.app.id
}

# For the database URL rotation function (a Lambda in the private subnets): PostgreSQL to RDS to
# change the hippo_service password, HTTPS to the Secrets Manager endpoint. Nothing inbound.
resource "aws_security_group" "rotation" {
  name        = "${local.prefix}-secret-rotation"
  description = "Secrets Manager rotation function: out to RDS and VPC endpoints only"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-secret-rotation"
  }
}

resource "aws_vpc_security_group_egress_rule" "rotation_to_db" {
  security_group_id            = aws_security_group.rotation.id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "rotation_to_endpoints" {
  security_group_id            = aws_security_group.rotation.id
  description                  = "HTTPS to the Secrets Manager and KMS endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_rotation" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the secret rotation function"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rotation.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_rotation" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the secret rotation function"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.rotation.id
}

# Break-glass database administration (first-time role setup, restores, DR drills): attach this
# group to an AWS CloudShell VPC environment in a private subnet. PostgreSQL to RDS and HTTPS
# out (AWS APIs, the CloudShell service); nothing inbound. Unused, it grants nothing.
resource "aws_security_group" "dbadmin" {
  name        = "${local.prefix}-dbadmin"
  description = "Break-glass DB administration (CloudShell VPC environment): out to RDS and HTTPS only"
  vpc_id      = aws_vpc.main.id

  tags = {
    Name = "${local.prefix}-dbadmin"
  }
}

resource "aws_vpc_security_group_egress_rule" "dbadmin_to_db" {
  security_group_id            = aws_security_group.dbadmin.id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "dbadmin_https" {
  security_group_id = aws_security_group.dbadmin.id
  description       = "HTTPS to AWS APIs through NAT and the VPC endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_dbadmin" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from break-glass administration sessions"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.dbadmin.id
}
