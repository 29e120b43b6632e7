terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # The state of this root lives in the bucket it creates. The first run
  # starts with local state and migrates it (terraform/env bootstrap apply
  # does both steps); bucket, key and region come from -backend-config.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "owp"
      owner       = var.owner
      environment = "account"
      managed-by  = "terraform"
    }
  }
}
