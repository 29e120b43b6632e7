terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # bucket, key and region are passed by terraform/env (-backend-config);
  # the lock is a native S3 lock file next to the state, no DynamoDB.
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
      environment = local.environment
      managed-by  = "terraform"
    }
  }
}
