# SASL/SCRAM over TLS and ACLs per service principal (var.secure). The grants
# are templates/kafka-acls.tftpl, the one list scripts/services --secure
# applies too; its principals are the SCRAM users made here. Passwords come
# from Secrets Manager's generator and are kept in SecureString parameters
# (ignore_changes: the data source answers a new one on every plan), then
# handed out in two secrets: kafka-users (every user, brokers only: each
# broker's first boot writes the SCRAM credentials to ZooKeeper) and
# kafka-clients (the services' principals, read by owp-database-env on the
# app instances; never the broker's or the operator's).
#
# TLS: only the AWS provider is mirrored (no tls provider), so the private CA
# is made at the brokers' first boot: every booting broker makes a candidate
# and puts it into the kafka-ca secret with one fixed version token, which
# Secrets Manager accepts once, so all brokers end up with the first one. Each
# broker then issues its own certificate for its fixed address, valid for a
# year and issued again whenever the broker is rolled, and publishes the CA
# certificate (public) in an SSM parameter the app instances read.

locals {
  broker_user = "kafka-broker"
  tls_dir     = "/etc/kafka/tls"
  # A fixed version id: the first PutSecretValue with it wins, any other
  # value under it is refused, so concurrent first boots agree on one CA.
  ca_version_token = "00000000-0000-4000-8000-00000000ca01"

  acls = templatefile("${path.module}/../../templates/kafka-acls.tftpl", {
    commands_topic   = "owp.commands.v1"
    events_topic     = "owp.events.v1"
    deadletter_topic = "owp.deadletter.v1"
    group_prefix     = "owp.robot."
    admin_prefix     = "owp"
  })
  acl_lines  = [for line in split("\n", local.acls) : trimspace(line) if trimspace(line) != "" && !startswith(trimspace(line), "#")]
  principals = sort(distinct([for line in local.acl_lines : split(" ", line)[0]]))
  # What the app instances' services run as: every principal but the operator's.
  service_principals = [for p in local.principals : p if p != "owp-admin"]
  users              = var.secure ? toset(concat([local.broker_user], local.principals)) : toset([])
}

data "aws_secretsmanager_random_password" "kafka_user" {
  for_each = local.users

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_ssm_parameter" "kafka_password" {
  for_each = local.users

  name        = "/owp/${var.name}/kafka/users/${each.key}"
  description = "SCRAM password of the Kafka user ${each.key} of ${var.name}"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = data.aws_secretsmanager_random_password.kafka_user[each.key].random_password

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_secretsmanager_secret" "kafka_users" {
  # checkov:skip=CKV2_AWS_57:SCRAM users are written to ZooKeeper at the brokers' first boot; rotation needs a second user per principal, which neither the services nor the brokers' boot implement yet.
  count = var.secure ? 1 : 0

  name                    = "${var.name}/kafka-users"
  description             = "Every Kafka SCRAM user of ${var.name} (brokers only)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_days
}

resource "aws_secretsmanager_secret_version" "kafka_users" {
  count = var.secure ? 1 : 0

  secret_id     = aws_secretsmanager_secret.kafka_users[0].id
  secret_string = jsonencode({ for user in local.users : user => aws_ssm_parameter.kafka_password[user].value })
}

resource "aws_secretsmanager_secret" "kafka_clients" {
  # checkov:skip=CKV2_AWS_57:The services read their credentials at boot (owp-database-env); rotation needs a second user per principal, which they do not implement yet.
  count = var.secure ? 1 : 0

  name                    = "${var.name}/kafka-clients"
  description             = "Kafka SCRAM users of the services of ${var.name} (app instances)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_days
}

resource "aws_secretsmanager_secret_version" "kafka_clients" {
  count = var.secure ? 1 : 0

  secret_id     = aws_secretsmanager_secret.kafka_clients[0].id
  secret_string = jsonencode({ for user in local.service_principals : user => aws_ssm_parameter.kafka_password[user].value })
}

resource "aws_secretsmanager_secret" "kafka_ca" {
  # checkov:skip=CKV2_AWS_57:The CA is made once at the brokers' first boot; a new CA means new certificates on every broker and client, which is a roll, not a rotation.
  count = var.secure ? 1 : 0

  name                    = "${var.name}/kafka-ca"
  description             = "Private CA of the Kafka brokers of ${var.name}: written by the first broker's first boot"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_days
}

resource "aws_ssm_parameter" "kafka_ca_certificate" {
  # checkov:skip=CKV2_AWS_34:A CA certificate is public; clients need it to verify the brokers.
  count = var.secure ? 1 : 0

  name        = "/owp/${var.name}/kafka/ca-certificate"
  description = "Certificate of the Kafka brokers' private CA of ${var.name} (written by the brokers' first boot)"
  type        = "String"
  value       = "none yet"

  lifecycle {
    ignore_changes = [value]
  }
}

data "aws_iam_policy_document" "security" {
  count = var.secure ? 1 : 0

  statement {
    sid       = "KafkaUsers"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.kafka_users[0].arn, aws_secretsmanager_secret.kafka_ca[0].arn]
  }
  statement {
    sid       = "MakeTheCaOnce"
    actions   = ["secretsmanager:PutSecretValue"]
    resources = [aws_secretsmanager_secret.kafka_ca[0].arn]
  }
  statement {
    sid       = "PublishTheCaCertificate"
    actions   = ["ssm:PutParameter"]
    resources = [aws_ssm_parameter.kafka_ca_certificate[0].arn]
  }
  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "security" {
  count = var.secure ? 1 : 0

  name   = "kafka-security"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.security[0].json
}
