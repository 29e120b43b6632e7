# The read store: an OpenSearch domain inside the VPC, encrypted at rest
# with the environment key, node-to-node TLS, HTTPS only (TLS 1.2+), logs
# (audit logs included) in KMS-encrypted log groups. Two gates: the network
# (only the app instances' security group reaches 443) and identity (the
# access policy admits requests signed by the app role only, and fine-grained
# access control makes that role the domain's master user). The services do
# not sign; owp-search-signer on each app instance signs for them.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  az_count   = min(var.instance_count, length(var.subnet_ids), 3)
  subnet_ids = slice(var.subnet_ids, 0, local.az_count)
  domain_arn = "arn:aws:es:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:domain/${var.name}"
  log_types  = ["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"]
}

resource "aws_security_group" "this" {
  name        = "${var.name}-search"
  description = "OWP read store: HTTPS from the app instances only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-search" }
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  # count, not for_each: the ids are unknown until the groups exist.
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Read store clients"
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_types)

  name              = "/aws/opensearch/${var.name}/${lower(each.key)}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# OpenSearch writes these logs under the account's one log resource policy
# (terraform/bootstrap: /aws/opensearch/owp-*), not one per environment.

# Only requests signed by the client roles (the app instances') get in.
data "aws_iam_policy_document" "access" {
  # checkov:skip=CKV_AWS_283:The principals are var.client_role_arns (validated as IAM role ARNs, the app role in the stack), which checkov cannot resolve; no wildcard principal.
  statement {
    actions   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete", "es:ESHttpPatch"]
    resources = ["${local.domain_arn}/*"]
    principals {
      type        = "AWS"
      identifiers = var.client_role_arns
    }
  }
}

resource "aws_opensearch_domain" "this" {
  # checkov:skip=CKV2_AWS_52:Fine-grained access control is enabled below (advanced_security_options, IAM master user, no internal user database), which this check does not recognise.
  # checkov:skip=CKV_AWS_317:AUDIT_LOGS is published (local.log_types, through the dynamic block checkov cannot expand).
  # checkov:skip=CKV_AWS_318:Dedicated masters are a size choice: prod sets dedicated_master_type (three masters); a one-node dev domain has no election to protect.
  # checkov:skip=CKV2_AWS_59:Same as CKV_AWS_318: dedicated_master_type enables three dedicated masters where the profile pays for them.
  domain_name     = var.name
  engine_version  = var.engine_version
  access_policies = data.aws_iam_policy_document.access.json

  cluster_config {
    instance_type            = var.instance_type
    instance_count           = var.instance_count
    zone_awareness_enabled   = local.az_count > 1
    dedicated_master_enabled = var.dedicated_master_type != ""
    dedicated_master_type    = var.dedicated_master_type != "" ? var.dedicated_master_type : null
    dedicated_master_count   = var.dedicated_master_type != "" ? 3 : null

    dynamic "zone_awareness_config" {
      for_each = local.az_count > 1 ? [local.az_count] : []
      content {
        availability_zone_count = zone_awareness_config.value
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.volume_size_gb
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = var.kms_key_arn
  }

  node_to_node_encryption {
    enabled = true
  }

  # Fine-grained access control with IAM only (no internal users, no
  # passwords): the app role is the master user.
  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = false
    master_user_options {
      master_user_arn = var.client_role_arns[0]
    }
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  vpc_options {
    subnet_ids         = local.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  dynamic "log_publishing_options" {
    for_each = aws_cloudwatch_log_group.this
    content {
      log_type                 = log_publishing_options.key
      cloudwatch_log_group_arn = log_publishing_options.value.arn
    }
  }
}
