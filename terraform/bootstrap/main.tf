# Account-level resources that every environment uses and that no
# environment's `terraform destroy` may take away: the Terraform state
# bucket (with native lock files), the log bucket for ALB and S3 access
# logs, the database export bucket (Object Lock) and its key, and the
# OpenSearch service-linked role. Every bucket and key here has
# prevent_destroy.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  suffix        = "${local.account_id}-${var.region}"
  state_bucket  = "owp-tfstate-${local.suffix}"
  log_bucket    = "owp-logs-${local.suffix}"
  export_bucket = "owp-db-exports-${local.suffix}"
  root_arn      = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_111:A key policy's resource is always the key itself, written "*"; write access is limited by principal.
  # checkov:skip=CKV_AWS_356:Same: "*" is the only valid resource in a KMS key policy.
  # checkov:skip=CKV_AWS_109:Same: the account root administers its own key, as AWS's default key policy does.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
  }
}

resource "aws_kms_key" "state" {
  description             = "OWP Terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "state" {
  name          = "alias/owp-terraform-state"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_kms_key" "exports" {
  description             = "OWP database exports (outlives every environment)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "exports" {
  name          = "alias/owp-db-exports"
  target_key_id = aws_kms_key.exports.key_id
}

# --- Log bucket (ALB access logs and S3 server access logs) -----------------------

resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_18:This is the access-log bucket itself; logging it into itself would loop.
  # checkov:skip=CKV_AWS_144:Access logs are not replicated to a second region; losing them loses no system state.
  # checkov:skip=CKV_AWS_145:ALB access logs and S3 server access logs can only be delivered to SSE-S3 buckets, not SSE-KMS.
  bucket = local.log_bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_expire_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_notification" "logs" {
  bucket      = aws_s3_bucket.logs.id
  eventbridge = true
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# --- Terraform state bucket --------------------------------------------------------

resource "aws_s3_bucket" "state" {
  # checkov:skip=CKV_AWS_144:State is versioned and KMS-encrypted in one region; cross-region replication is a later decision for the account, not per project.
  bucket = local.state_bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "state" {
  bucket        = aws_s3_bucket.state.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${local.state_bucket}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "keep-old-state-90-days"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.state]
}

resource "aws_s3_bucket_notification" "state" {
  bucket      = aws_s3_bucket.state.id
  eventbridge = true
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = data.aws_iam_policy_document.state.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

# --- Database exports (Object Lock, compliance mode) ---------------------------------

resource "aws_s3_bucket" "exports" {
  # checkov:skip=CKV_AWS_144:Exports already are the off-instance copy of RDS backups; a second region is a later, account-wide decision.
  bucket              = local.export_bucket
  object_lock_enabled = true

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.export_lock_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.exports]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.exports.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "exports" {
  bucket        = aws_s3_bucket.exports.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${local.export_bucket}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id
  rule {
    id     = "expire-old-exports"
    status = "Enabled"
    filter {}
    expiration {
      days = var.export_expire_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.export_lock_days + 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.exports]
}

resource "aws_s3_bucket_notification" "exports" {
  bucket      = aws_s3_bucket.exports.id
  eventbridge = true
}

data "aws_iam_policy_document" "exports" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.exports.arn, "${aws_s3_bucket.exports.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "exports" {
  bucket     = aws_s3_bucket.exports.id
  policy     = data.aws_iam_policy_document.exports.json
  depends_on = [aws_s3_bucket_public_access_block.exports]
}

# OpenSearch needs this role to place a domain in a VPC; one per account.
resource "aws_iam_service_linked_role" "opensearch" {
  aws_service_name = "opensearchservice.amazonaws.com"
}

# --- Backups that outlive every environment --------------------------------------------
#
# Each environment's backup plan (modules/postgres) takes a daily RDS backup
# into the intake vault (encrypted, as RDS requires, with the database's own
# key) and copies it into the locked vault, which re-encrypts the copy with
# the key below. Neither the vaults nor this key belong to an environment's
# state, so destroying an environment (which schedules its own key for
# deletion) leaves every copy restorable until its retention ends.

resource "aws_kms_key" "backups" {
  description             = "OWP database backup copies (outlives every environment)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "backups" {
  name          = "alias/owp-backups"
  target_key_id = aws_kms_key.backups.key_id
}

resource "aws_backup_vault" "intake" {
  name        = "owp-backup-intake-${var.region}"
  kms_key_arn = aws_kms_key.backups.arn

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_backup_vault" "locked" {
  name        = "owp-backups-${var.region}"
  kms_key_arn = aws_kms_key.backups.arn

  lifecycle {
    prevent_destroy = true
  }
}

# Compliance mode once changeable_for_days have passed: from then on nobody,
# root included, can delete a copy before min_retention_days or change the
# lock. Every plan's copy retention must lie between the two bounds.
resource "aws_backup_vault_lock_configuration" "locked" {
  backup_vault_name   = aws_backup_vault.locked.name
  min_retention_days  = var.backup_min_retention_days
  max_retention_days  = var.backup_max_retention_days
  changeable_for_days = 3
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

# The role every environment's backup selection names: AWS Backup's own
# managed policies for taking, copying and restoring backups.
resource "aws_iam_role" "backup" {
  name               = "owp-backup-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
  ])

  role       = aws_iam_role.backup.name
  policy_arn = each.value
}

# --- Per-region resources every environment shares -----------------------------------------

# CloudWatch Logs allows ten resource policies per account and region; one
# here lets every environment's OpenSearch domain write its logs, instead
# of one per environment.
data "aws_iam_policy_document" "opensearch_logs" {
  statement {
    actions   = ["logs:PutLogEvents", "logs:CreateLogStream"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/opensearch/owp-*"]
    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "opensearch" {
  policy_name     = "owp-opensearch-logs"
  policy_document = data.aws_iam_policy_document.opensearch_logs.json
}

# Session Manager: one preferences document per account and region. Every
# session's transcript goes to this log group (encrypted, a year).
resource "aws_cloudwatch_log_group" "sessions" {
  name              = "/owp/session-manager"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.sessions.arn
}

data "aws_iam_policy_document" "sessions_key" {
  # checkov:skip=CKV_AWS_111:A key policy's resource is always the key itself, written "*"; write access is limited by principal.
  # checkov:skip=CKV_AWS_356:Same: "*" is the only valid resource in a KMS key policy.
  # checkov:skip=CKV_AWS_109:Same: the account root administers its own key, as AWS's default key policy does.
  source_policy_documents = [data.aws_iam_policy_document.key.json]
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:/owp/session-manager"]
    }
  }
}

resource "aws_kms_key" "sessions" {
  description             = "OWP Session Manager transcripts"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.sessions_key.json

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_ssm_document" "session_preferences" {
  # checkov:skip=CKV_AWS_112:Session traffic is TLS between agent and service; KMS session encryption on top would give every instance role use of one account-wide key, for no data at rest.
  # The name Session Manager reads its account-wide preferences from.
  name            = "SSM-SessionManagerRunShell"
  document_type   = "Session"
  document_format = "JSON"
  content = jsonencode({
    schemaVersion = "1.0"
    description   = "OWP Session Manager preferences: transcripts to CloudWatch Logs"
    sessionType   = "Standard_Stream"
    inputs = {
      cloudWatchLogGroupName      = aws_cloudwatch_log_group.sessions.name
      cloudWatchEncryptionEnabled = true
      cloudWatchStreamingEnabled  = true
      idleSessionTimeout          = "20"
      runAsEnabled                = false
      shellProfile = {
        linux = "cd /; exec bash -l"
      }
    }
  })
}

# --- How many engineer environments fit, and the quotas for more ------------------------
#
# Per account and region, AWS allows 5 VPCs and 5 Elastic IPs by default.
# The default VPC, staging (1 VPC, 1 EIP) and production (1 VPC, 3 EIPs for
# its NAT gateways) leave room for exactly one engineer environment (1 VPC,
# 1 EIP each). max_engineer_environments above that requests the quota
# increases below (Service Quotas; AWS may take a while to grant them), and
# terraform/env refuses to create an engineer environment beyond the limit
# written to the state bucket.

locals {
  vpcs_needed = 3 + var.max_engineer_environments
  eips_needed = 4 + var.max_engineer_environments
}

resource "aws_servicequotas_service_quota" "vpcs" {
  count = local.vpcs_needed > 5 ? 1 : 0

  service_code = "vpc"
  quota_code   = "L-F678F1CE" # VPCs per Region
  value        = local.vpcs_needed
}

resource "aws_servicequotas_service_quota" "eips" {
  count = local.eips_needed > 5 ? 1 : 0

  service_code = "ec2"
  quota_code   = "L-0263D0A3" # EC2-VPC Elastic IPs
  value        = local.eips_needed
}

resource "aws_s3_object" "engineer_environment_limit" {
  bucket       = aws_s3_bucket.state.id
  key          = "limits/engineer-environments"
  content      = "${var.max_engineer_environments}\n"
  content_type = "text/plain"
}

# --- The delivery pipeline's own rights (jenkins/Jenkinsfile) -----------------------------
#
# What Publish, Bake, Deploy and Verify need, and nothing else: upload
# releases and move the current-release pointer in the environments' release
# buckets (never delete), read the deployers' reports, bake AMIs with
# Packer's amazon-ebs builder, and hand the manifests to terraform/env. The
# engineer-environment job (Jenkinsfile.env) runs Terraform and needs an
# administrator's rights; it is not this policy.

data "aws_iam_policy_document" "jenkins_publisher" {
  # checkov:skip=CKV_AWS_111:Packer's amazon-ebs builder creates and tags instances, volumes, snapshots, key pairs and security groups whose ids it learns only at run time; EC2 scopes these actions by tag conditions at best, applied below where EC2 supports them.
  # checkov:skip=CKV_AWS_356:Same: the EC2 Describe* and the builder's create actions have no resource-level scoping.
  # checkov:skip=CKV_AWS_109:kms grants are limited to the EBS service (kms:ViaService) for encrypted AMIs.
  statement {
    sid       = "UploadReleasesAndMoveThePointer"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::owp-*-releases-${local.account_id}/releases/*"]
  }
  statement {
    sid       = "ReadTheFleet"
    actions   = ["s3:GetObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::owp-*-releases-${local.account_id}/leases/*"]
  }
  statement {
    sid       = "ListReleaseBuckets"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::owp-*-releases-${local.account_id}"]
  }
  statement {
    sid       = "HandManifestsToTerraform"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/images/*"]
  }
  statement {
    sid       = "StateBucketKeyForManifests"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.state.arn]
  }
  statement {
    sid = "BakeWithPacker"
    actions = [
      "ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeRegions",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "ec2:DescribeSubnets", "ec2:DescribeVolumes",
      "ec2:DescribeVpcs", "ec2:DescribeImageAttribute", "ec2:DescribeTags", "ec2:DescribeKeyPairs",
      "ec2:RunInstances", "ec2:StopInstances", "ec2:TerminateInstances", "ec2:CreateImage", "ec2:RegisterImage",
      "ec2:CreateTags", "ec2:CreateKeyPair", "ec2:DeleteKeyPair", "ec2:CreateSecurityGroup",
      "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateSnapshot", "ec2:DeleteSnapshot",
      "ec2:CreateVolume", "ec2:DeleteVolume", "ec2:AttachVolume", "ec2:DetachVolume", "ec2:ModifyImageAttribute",
      "ec2:ModifyInstanceAttribute",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "EncryptedImages"
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ec2.${var.region}.amazonaws.com"]
    }
  }
  statement {
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "jenkins_publisher" {
  name        = "owp-jenkins-publisher-${var.region}"
  description = "OWP delivery pipeline: publish releases, bake AMIs, hand manifests to terraform/env"
  policy      = data.aws_iam_policy_document.jenkins_publisher.json
}

data "aws_iam_policy_document" "jenkins_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = var.jenkins_principal_arns
    }
  }
}

# The role the Jenkins agents assume (their instance profile's role, or the
# user behind OWP_AWS_CREDENTIALS_ID); none until they are named.
resource "aws_iam_role" "jenkins_publisher" {
  count = length(var.jenkins_principal_arns) > 0 ? 1 : 0

  name                 = "owp-jenkins-publisher-${var.region}"
  assume_role_policy   = data.aws_iam_policy_document.jenkins_assume.json
  max_session_duration = 7200
}

resource "aws_iam_role_policy_attachment" "jenkins_publisher" {
  count = length(var.jenkins_principal_arns) > 0 ? 1 : 0

  role       = aws_iam_role.jenkins_publisher[0].name
  policy_arn = aws_iam_policy.jenkins_publisher.arn
}
