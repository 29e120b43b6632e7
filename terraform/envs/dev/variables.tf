variable "engineer" {
  type        = string
  description = "The engineer this private copy belongs to; names every resource owp-dev-<engineer>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.engineer)) && !contains(["staging", "prod", "bootstrap"], var.engineer)
    error_message = "The engineer must be 2-16 lowercase letters or digits, starting with a letter, and not staging, prod or bootstrap."
  }
}

variable "allow_destroy" {
  type        = bool
  description = "Set only by 'terraform/env <engineer> destroy': turns deletion protection off for the apply right before destroy."
  default     = false
}

variable "owner" {
  type        = string
  description = "Who answers for this environment (person or team); becomes the owner tag of every resource."
  validation {
    condition     = can(regex("^[A-Za-z0-9 ._@+-]{2,64}$", var.owner))
    error_message = "The owner must be 2-64 characters: letters, digits, spaces and . _ @ + -."
  }
}

variable "region" {
  type        = string
  description = "AWS region of the environment."
  default     = "us-east-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "The region must look like us-east-1."
  }
}

variable "dns_zone_name" {
  type        = string
  description = "Public Route 53 zone of the account (terraform/env passes $OWP_DNS_ZONE); the API is served under it."
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.dns_zone_name))
    error_message = "The dns_zone_name must be a lowercase DNS name without trailing dot."
  }
}

variable "runbook_base_url" {
  type        = string
  description = "Web URL prefix of the repository for runbook links in alarms; empty keeps the path runbooks/<file>."
  default     = ""
  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://", var.runbook_base_url))
    error_message = "The runbook_base_url must be empty or an https:// URL."
  }
}

variable "image_manifest_dir" {
  type        = string
  description = "Directory with the Packer manifests (app.json, kafka.json, zookeeper.json); empty means packer/manifests in this repository."
  default     = ""
}

variable "ami_ids" {
  type        = map(string)
  description = "AMI ids overriding the manifests, by image (app, kafka, zookeeper)."
  default     = {}
}

variable "pinned_ami_ids" {
  type        = map(map(string))
  description = "Per-node AMI pins, e.g. { kafka = { \"2\" = \"ami-...\" } }: the node is created or rolled from that AMI instead of the newest manifest's."
  default     = {}
}

variable "alarm_email" {
  type        = string
  description = "Optional e-mail address for the alarm topic."
  default     = ""
}

