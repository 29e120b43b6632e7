output "security_group_id" {
  description = "Security group of the metadata nodes; the kafka module adds its brokers as clients."
  value       = aws_security_group.this.id
}

output "private_ips" {
  description = "Fixed private addresses of the nodes, in node order."
  value       = [for n in local.nodes : n.ip]
}

output "zookeeper_connect" {
  description = "ZooKeeper connect string (host:2181,...) without chroot."
  value       = local.zookeeper_connect
}

output "controller_quorum_voters" {
  description = "controller.quorum.voters for brokers when metadata_mode is kraft."
  value       = local.controller_quorum_voters
}

output "client_port" {
  description = "ZooKeeper client port."
  value       = local.client_port
}

output "controller_port" {
  description = "KRaft controller listener port."
  value       = local.controller_port
}

output "instance_ids" {
  description = "EC2 instance ids of the nodes."
  value       = aws_instance.node[*].id
}
