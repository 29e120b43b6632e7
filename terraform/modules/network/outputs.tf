output "vpc_id" {
  description = "ID of the environment's VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones in use, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets (ALB and NAT gateways only), one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (every instance, RDS, OpenSearch), one per AZ. Known only once the static ranges are reserved, so nothing that places a random ENI can be created before the reservation exists."
  value       = aws_ec2_subnet_cidr_reservation.static[*].subnet_id
}

output "static_cidrs" {
  description = "The reserved /27 of each private subnet, same order: the only place fixed node addresses are taken from."
  value       = aws_ec2_subnet_cidr_reservation.static[*].cidr_block
}

output "private_subnet_cidrs" {
  description = "CIDRs of the private subnets, in the same order; the Kafka and ZooKeeper modules derive fixed node addresses from them."
  value       = aws_subnet.private[*].cidr_block
}
