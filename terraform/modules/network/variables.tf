variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. owp-dev-alice."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,28}$", var.name))
    error_message = "The name must be 3-29 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; /16 to /20. Each AZ gets one public and one private subnet carved from it."
  validation {
    condition     = can(regex("^[0-9.]+/(1[6-9]|20)$", var.cidr_block)) && can(cidrhost(var.cidr_block, 0))
    error_message = "The cidr_block must be a valid IPv4 CIDR between /16 and /20."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones by name, in subnet order (e.g. us-east-1a, b, c). Kafka's rack awareness and the metadata quorum want 3. An explicit list keeps the subnet layout fixed when AWS adds a zone."
  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4 && alltrue([for z in var.availability_zones : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", z))])
    error_message = "The availability_zones must be 2 to 4 zone names like us-east-1a."
  }
}

variable "nat_gateway_count" {
  type        = number
  description = "NAT gateways: 1 keeps a dev environment cheap, one per AZ survives an AZ outage."
  default     = 1
  validation {
    condition     = var.nat_gateway_count >= 1 && var.nat_gateway_count <= 4 && floor(var.nat_gateway_count) == var.nat_gateway_count
    error_message = "The nat_gateway_count must be a whole number from 1 to 4 (and at most one per zone)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the flow-log log group."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the VPC flow logs in CloudWatch Logs."
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ..., 365, ...)."
  }
}

variable "endpoint_zone_count" {
  type        = number
  description = "Zones that get an ENI of each Session Manager interface endpoint: 1 keeps an engineer environment cheap, one per zone survives a zone outage."
  default     = 3
  validation {
    condition     = var.endpoint_zone_count >= 1 && var.endpoint_zone_count <= 4 && floor(var.endpoint_zone_count) == var.endpoint_zone_count
    error_message = "The endpoint_zone_count must be a whole number from 1 to 4."
  }
}
