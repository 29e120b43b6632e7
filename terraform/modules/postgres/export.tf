# The daily export of the newest automated snapshot into the bootstrap
# export bucket (see README.md): function, its roles, and the schedule.

# --- Scheduled export of the newest automated snapshot to S3 -------------

data "aws_iam_policy_document" "export_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["export.rds.amazonaws.com"]
    }
  }
}

# Assumed by RDS while it writes the export into the bucket.
resource "aws_iam_role" "export" {
  name               = "${var.name}-rds-export"
  assume_role_policy = data.aws_iam_policy_document.export_assume.json
}

data "aws_iam_policy_document" "export" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::${var.export_bucket_name}/${var.name}/*"]
  }
  statement {
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = ["arn:aws:s3:::${var.export_bucket_name}"]
  }
}

resource "aws_iam_role_policy" "export" {
  name   = "write-exports"
  role   = aws_iam_role.export.id
  policy = data.aws_iam_policy_document.export.json
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "export_function" {
  name               = "${var.name}-rds-export-fn"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_cloudwatch_log_group" "export_function" {
  name              = "/aws/lambda/${var.name}-rds-export"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sqs_queue" "export_dlq" {
  name                      = "${var.name}-rds-export-dlq"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "export_function" {
  statement {
    sid       = "FindSnapshots"
    actions   = ["rds:DescribeDBSnapshots"]
    resources = ["arn:aws:rds:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:db:${var.name}"]
  }
  statement {
    sid     = "StartExport"
    actions = ["rds:StartExportTask"]
    resources = [
      "arn:aws:rds:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:snapshot:rds:${var.name}-*",
    ]
  }
  statement {
    sid       = "HandExportRoleToRds"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.export.arn]
  }
  statement {
    sid       = "EncryptExports"
    actions   = ["kms:CreateGrant", "kms:DescribeKey"]
    resources = [var.export_kms_key_arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.export_dlq.arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.export_function.arn}:*"]
  }
  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "export_function" {
  name   = "export-snapshots"
  role   = aws_iam_role.export_function.id
  policy = data.aws_iam_policy_document.export_function.json
}

# Network interfaces for the function inside the VPC, and X-Ray tracing.
resource "aws_iam_role_policy_attachment" "export_function_vpc" {
  role       = aws_iam_role.export_function.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "export_function_xray" {
  role       = aws_iam_role.export_function.name
  policy_arn = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_security_group" "export_function" {
  name        = "${var.name}-rds-export-fn"
  description = "OWP snapshot export function: HTTPS to the RDS API only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-rds-export-fn" }
}

resource "aws_vpc_security_group_egress_rule" "export_function_https" {
  security_group_id = aws_security_group.export_function.id
  description       = "HTTPS to the RDS API"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_lambda_function" "export" {
  # checkov:skip=CKV_AWS_272:A 60-line function zipped from this repository by export/build.sh; there is no signing profile to verify it against.
  function_name = "${var.name}-rds-export"
  role          = aws_iam_role.export_function.arn
  runtime       = "python3.12"
  handler       = "export_snapshot.handler"
  # export/build.sh writes the zip (terraform/env runs it before every plan
  # and apply); the hash of the source decides when the code is updated.
  filename                       = "${path.module}/.build/export_snapshot.zip"
  source_code_hash               = filebase64sha256("${path.module}/export/export_snapshot.py")
  timeout                        = 60
  reserved_concurrent_executions = 1
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      DB_INSTANCE_IDENTIFIER = aws_db_instance.this.identifier
      EXPORT_BUCKET          = var.export_bucket_name
      EXPORT_PREFIX          = var.name
      EXPORT_ROLE_ARN        = aws_iam_role.export.arn
      EXPORT_KMS_KEY_ARN     = var.export_kms_key_arn
    }
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.export_function.id]
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.export_dlq.arn
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.export_function]
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-rds-export-schedule"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.export.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-export"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "export" {
  name                = "${var.name}-rds-export"
  schedule_expression = var.export_schedule
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.export.arn
    role_arn = aws_iam_role.scheduler.arn
  }
}
