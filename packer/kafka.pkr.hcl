# The OWP Kafka broker image: Debian 12, Apache Kafka 3.9.x (ZooKeeper mode;
# KRaft-ready), and the boot unit that mounts the broker's EBS data volume
# and derives a stable broker id from the instance's tags.
# Provisioning is in scripts/*.sh; this file only wires them together.
#   packer build -var git_commit=$(git rev-parse HEAD) packer/kafka.pkr.hcl

variable "git_commit" {
  type        = string
  description = "Full git commit the image is built from; tagged on the AMI."
  validation {
    condition     = length(var.git_commit) == 40 && regex_replace(var.git_commit, "[0-9a-f]", "") == ""
    error_message = "The git_commit must be a full 40-character lowercase hex commit id."
  }
}

variable "kafka_version" {
  type        = string
  description = "Apache Kafka release; 3.9.x is the last line with ZooKeeper mode."
  default     = "3.9.1"
  validation {
    condition     = regex_replace(var.kafka_version, "^3\\.9\\.[0-9]+$", "") == ""
    error_message = "The kafka_version must be 3.9.x: Kafka 4 has no ZooKeeper mode."
  }
}

variable "kafka_scala_version" {
  type        = string
  description = "Scala build of the Kafka tarball."
  default     = "2.13"
  validation {
    condition     = contains(["2.12", "2.13"], var.kafka_scala_version)
    error_message = "The kafka_scala_version must be 2.12 or 2.13."
  }
}

variable "kafka_mirror" {
  type        = string
  description = "Apache release archive holding <version>/kafka_<scala>-<version>.tgz, .asc and KEYS."
  default     = "https://archive.apache.org/dist/kafka"
  validation {
    condition     = substr(var.kafka_mirror, 0, 8) == "https://"
    error_message = "The kafka_mirror must be an https:// URL."
  }
}

variable "kafka_sha512" {
  type        = string
  description = "Optional pinned sha512 of the tarball; empty verifies the Apache GPG signature instead."
  default     = ""
  validation {
    condition     = var.kafka_sha512 == "" || (length(var.kafka_sha512) == 128 && regex_replace(var.kafka_sha512, "[0-9a-f]", "") == "")
    error_message = "The kafka_sha512 must be empty or 128 lowercase hex characters."
  }
}

variable "aws_region" {
  type        = string
  description = "Region the AMI is built and registered in."
  default     = "us-east-1"
  validation {
    condition     = regex_replace(var.aws_region, "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", "") == ""
    error_message = "The aws_region must look like us-east-1."
  }
}

variable "instance_type" {
  type        = string
  description = "Builder instance type; the image itself runs on any x86_64 type."
  default     = "t3.small"
}

variable "subnet_id" {
  type        = string
  description = "Subnet for the builder instance; empty uses the default VPC."
  default     = ""
}

variable "manifest_dir" {
  type        = string
  description = "Directory the manifest post-processor writes <image>.json into; Terraform reads it."
  default     = "packer/manifests"
}

locals {
  # AMI names must be unique per region: version plus UTC build time.
  timestamp = formatdate("YYYYMMDDhhmmss", timestamp())
  image     = "kafka"
  version   = var.kafka_version
}

source "amazon-ebs" "kafka" {
  region        = var.aws_region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "admin"
  ami_name      = "owp-${local.image}-${local.version}-${local.timestamp}"
  # The official Debian 12 images, published by Debian's AWS account.
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  encrypt_boot = true
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 16
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  tags = {
    Name      = "owp-${local.image}-${local.version}"
    Image     = local.image
    Version   = local.version
    GitCommit = var.git_commit
    Kafka     = var.kafka_version
    BuildTime = local.timestamp
  }
  run_tags = {
    Name = "packer-owp-${local.image}"
  }
}

build {
  sources = ["source.amazon-ebs.kafka"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/owp-packer"]
  }
  provisioner "file" {
    source      = "${path.root}/scripts"
    destination = "/tmp/owp-packer"
  }
  provisioner "file" {
    source      = "${path.root}/files"
    destination = "/tmp/owp-packer"
  }
  provisioner "shell" {
    inline = [
      "sudo bash /tmp/owp-packer/scripts/base.sh",
      "sudo bash /tmp/owp-packer/scripts/kafka-image.sh --version ${var.kafka_version} --scala ${var.kafka_scala_version} --mirror ${var.kafka_mirror}${var.kafka_sha512 == "" ? "" : " --sha512 ${var.kafka_sha512}"}",
      "sudo bash /tmp/owp-packer/scripts/cleanup.sh --yes-this-is-the-image-builder",
    ]
  }

  post-processor "manifest" {
    output     = "${var.manifest_dir}/${local.image}.json"
    strip_path = true
    custom_data = {
      image      = local.image
      version    = local.version
      git_commit = var.git_commit
    }
  }
}
