# The OWP app image: Debian 12, one release of every service unpacked under
# /opt/owp with hardened units from dist/systemd, the deployer, and the
# journald -> CloudWatch Logs shipper. Provisioning is in scripts/*.sh; this
# file only wires them together. The release is verified against
# release_public_key before it is baked, and that key is what every instance
# trusts (/etc/owp/release.pub). Build from the repository root:
#   packer build -var version=1.2.3 -var git_commit=$(git rev-parse HEAD) \
#     -var release_tarball=target/owp-1.2.3.tar.gz \
#     -var release_public_key="$(sed -n 2p release.pub)" packer/app.pkr.hcl

variable "version" {
  type        = string
  description = "Release version baked into the image (semver, e.g. 1.2.3)."
  validation {
    condition     = length(var.version) > 0 && regex_replace(var.version, "^[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$", "") == ""
    error_message = "The version must look like 1.2.3 (optionally -rc.1)."
  }
}

variable "git_commit" {
  type        = string
  description = "Full git commit the image is built from; tagged on the AMI."
  validation {
    condition     = length(var.git_commit) == 40 && regex_replace(var.git_commit, "[0-9a-f]", "") == ""
    error_message = "The git_commit must be a full 40-character lowercase hex commit id."
  }
}

variable "release_tarball" {
  type        = string
  description = "Path of the release tarball (bin/ with every service and the deployer)."
  validation {
    condition     = length(var.release_tarball) > 0
    error_message = "The release_tarball must be a path."
  }
}

variable "release_public_key" {
  type        = string
  description = "The release signing key's public half: the key line of the minisign .pub file (RW...). Baked into /etc/owp/release.pub; the release must verify against it."
  validation {
    condition     = length(var.release_public_key) == 56 && substr(var.release_public_key, 0, 2) == "RW" && regex_replace(var.release_public_key, "[A-Za-z0-9+/]", "") == ""
    error_message = "The release_public_key must be a minisign Ed25519 public key: RW followed by 54 base64 characters."
  }
}

variable "rds_ca_bundle_sha256" {
  type        = string
  description = "sha256 of the RDS global CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) as last reviewed; the bake fetches the bundle and refuses any other. Bump it when AWS publishes a new bundle."
  validation {
    condition     = length(var.rds_ca_bundle_sha256) == 64 && regex_replace(var.rds_ca_bundle_sha256, "[0-9a-f]", "") == ""
    error_message = "The rds_ca_bundle_sha256 must be 64 lowercase hex digits."
  }
}

variable "rds_ca_bundle_url" {
  type        = string
  description = "Where the bake fetches the RDS CA bundle from (scripts/test-image points it at a stand-in)."
  default     = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
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
  image     = "app"
}

source "amazon-ebs" "app" {
  region        = var.aws_region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "admin"
  ami_name      = "owp-${local.image}-${var.version}-${local.timestamp}"
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
    Name      = "owp-${local.image}-${var.version}"
    Image     = local.image
    Version   = var.version
    GitCommit = var.git_commit
    BuildTime = local.timestamp
  }
  run_tags = {
    Name = "packer-owp-${local.image}"
  }
}

build {
  sources = ["source.amazon-ebs.app"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/owp-packer/dist"]
  }
  provisioner "file" {
    source      = "${path.root}/scripts"
    destination = "/tmp/owp-packer"
  }
  provisioner "file" {
    source      = "${path.root}/files"
    destination = "/tmp/owp-packer"
  }
  provisioner "file" {
    source      = "${path.root}/../dist/systemd"
    destination = "/tmp/owp-packer/dist"
  }
  provisioner "file" {
    source      = var.release_tarball
    destination = "/tmp/owp-packer/release.tar.gz"
  }
  provisioner "shell" {
    inline = ["printf 'untrusted comment: owp release public key\\n%s\\n' '${var.release_public_key}' > /tmp/owp-packer/release.pub"]
  }
  provisioner "shell" {
    inline = [
      "sudo bash /tmp/owp-packer/scripts/base.sh",
      "sudo bash /tmp/owp-packer/scripts/app-image.sh --release-tarball /tmp/owp-packer/release.tar.gz --version ${var.version} --release-public-key /tmp/owp-packer/release.pub --rds-ca-url ${var.rds_ca_bundle_url} --rds-ca-sha256 ${var.rds_ca_bundle_sha256} --units-dir /tmp/owp-packer/dist/systemd",
      "sudo bash /tmp/owp-packer/scripts/cleanup.sh --yes-this-is-the-image-builder",
    ]
  }

  post-processor "manifest" {
    output     = "${var.manifest_dir}/${local.image}.json"
    strip_path = true
    custom_data = {
      image      = local.image
      version    = var.version
      git_commit = var.git_commit
    }
  }
}
