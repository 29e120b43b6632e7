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

output "volume_ids" {
  description = "EBS volumes by \"<myid>-<disk>\" (txlog, data, metadata); they survive instance replacement."
  value       = local.volume_ids
}

output "network_interface_ids" {
  description = "Network interface (fixed address) of each node, in node order."
  value       = local.eni_ids
}

output "nodes" {
  description = "Per node: myid, controller id, address, instance, the AMI it runs and the resource addresses that `terraform/env <env> roll zookeeper` replaces."
  value = [
    for n in local.nodes : {
      node_id       = n.myid
      controller_id = n.controller_id
      ip            = n.ip
      instance_id   = aws_instance.node[n.index].id
      ami_id        = aws_instance.node[n.index].ami
      wanted_ami    = n.ami_id
      # sha1 (no secret in it) of the user data the instance booted with, and of what a roll
      # would give it: they differ when the node's configuration changed.
      user_data_sha1        = nonsensitive(sha1(aws_instance.node[n.index].user_data_base64))
      wanted_user_data_sha1 = nonsensitive(sha1(base64gzip(local.user_data[n.index])))
      replace               = "aws_instance.node[${n.index}]"
      # The instance, what attaches to it, and the alarms that name it.
      targets = concat(
        ["aws_instance.node[${n.index}]"],
        [for d in keys(local.disks) : "aws_volume_attachment.disk[\"${n.myid}-${d}\"]"],
        ["aws_cloudwatch_metric_alarm.status_system[${n.index}]", "aws_cloudwatch_metric_alarm.status_instance[${n.index}]"],
      )
    }
  ]
}

output "alarms" {
  description = "Every alarm of the module with the runbook its description links."
  value = [
    for a in concat(aws_cloudwatch_metric_alarm.quorum, aws_cloudwatch_metric_alarm.member_down, [aws_cloudwatch_metric_alarm.disk], aws_cloudwatch_metric_alarm.status_system, aws_cloudwatch_metric_alarm.status_instance) :
    { name = a.alarm_name, runbook = regex("runbooks/([a-z0-9-]+[.]md)$", a.alarm_description)[0] }
  ]
}

output "instance_names" {
  description = "Name tags of the metadata nodes, in node order."
  value       = [for t in local.node_tags : t.Name]
}
