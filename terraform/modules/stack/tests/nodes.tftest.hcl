# The brokers and metadata nodes stay: after a bake (new AMIs) or a change of
# their user data, nothing that would replace (or stop and start) a running
# broker or metadata node changes; a roll replaces exactly the one instance it
# names, and that node keeps its volumes and its address.
#
# A mocked provider never decides on a replacement by itself (that is the
# real provider's plan logic): it only honours -replace. So these runs assert
# on what forces a replacement or a restart of an aws_instance here: its AMI,
# its user data and its network interface (tests/infra checks the
# ignore_changes list statically as well).
# Applied as an engineer environment: `terraform test` destroys what it
# applied, which prevent_destroy (staging, prod) would refuse; the last run
# plans staging to show which variant it gets.

mock_provider "aws" {
  source = "./tests/mocks"
}

override_resource {
  target = module.app.aws_acm_certificate.this
  values = {
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/mock"
    domain_validation_options = [{
      domain_name           = "citest.dev.owp.example.org"
      resource_record_name  = "_x1.citest.dev.owp.example.org."
      resource_record_type  = "CNAME"
      resource_record_value = "_x2.acm-validations.aws."
    }]
  }
}

variables {
  environment        = "dev-citest"
  domain_name        = "citest.dev.owp.example.org"
  route53_zone_id    = "Z0123456789ABCDEFGHIJ"
  image_manifest_dir = "/nonexistent"
  ami_ids = {
    app       = "ami-0a000000000000001"
    kafka     = "ami-0b000000000000001"
    zookeeper = "ami-0c000000000000001"
  }
  kafka_instance_type          = "m6i.large"
  zookeeper_node_count         = 3
  search_dedicated_master_type = ""
}

run "first_apply" {
  command = apply

  assert {
    condition     = alltrue([for n in output.kafka_nodes : n.ami_id == "ami-0b000000000000001"])
    error_message = "The brokers do not run the Kafka AMI they were created from."
  }
  assert {
    condition     = length(distinct([for n in output.kafka_nodes : n.instance_id])) == 3
    error_message = "Three brokers, three instances."
  }
  assert {
    condition     = length(module.kafka.data_volume_ids) == 3 && length(module.zookeeper.volume_ids) == 9
    error_message = "Every broker has a data volume; every metadata node a txlog, data and metadata volume."
  }
}

run "new_images_replace_nothing" {
  # Applied, so that what is asserted is state, never an unknown value
  # (an assertion on an unknown value is not evaluated).
  command = apply

  variables {
    ami_ids = {
      app       = "ami-0a000000000000002"
      kafka     = "ami-0b000000000000002"
      zookeeper = "ami-0c000000000000002"
    }
  }

  assert {
    condition     = alltrue([for n in output.kafka_nodes : n.ami_id == "ami-0b000000000000001"]) && alltrue([for n in output.zookeeper_nodes : n.ami_id == "ami-0c000000000000001"])
    error_message = "Running brokers and metadata nodes keep their AMI until they are rolled (a changed AMI replaces the instance)."
  }
  assert {
    condition     = [for n in output.kafka_nodes : n.user_data_sha1] == [for n in run.first_apply.kafka_nodes : n.user_data_sha1] && [for n in output.zookeeper_nodes : n.user_data_sha1] == [for n in run.first_apply.zookeeper_nodes : n.user_data_sha1]
    error_message = "A bake must not change a running node's user data."
  }
  assert {
    condition     = output.kafka_network_interface_ids == run.first_apply.kafka_network_interface_ids && output.zookeeper_network_interface_ids == run.first_apply.zookeeper_network_interface_ids
    error_message = "Every node keeps its network interface."
  }
  assert {
    condition     = alltrue([for n in output.kafka_nodes : n.wanted_ami == "ami-0b000000000000002"])
    error_message = "The next roll takes the new Kafka AMI."
  }
}

run "user_data_changes_replace_nothing" {
  command = apply

  variables {
    kafka_heap = "3g"
  }

  assert {
    condition     = [for n in output.kafka_nodes : n.user_data_sha1] == [for n in run.first_apply.kafka_nodes : n.user_data_sha1]
    error_message = "A user data change must not touch a running broker's user data (that stops and starts the instance)."
  }
  assert {
    condition     = alltrue([for n in output.kafka_nodes : n.user_data_sha1 != n.wanted_user_data_sha1])
    error_message = "The new configuration waits for the next roll (wanted differs from running)."
  }
}

run "roll_one_broker" {
  command = apply

  variables {
    ami_ids = {
      app       = "ami-0a000000000000001"
      kafka     = "ami-0b000000000000002"
      zookeeper = "ami-0c000000000000001"
    }
  }

  # What `terraform/env staging roll kafka` applies for broker 2.
  plan_options {
    replace = [module.kafka.aws_instance.broker[1]]
    target  = [module.kafka.aws_instance.broker[1], module.kafka.aws_volume_attachment.data[1]]
  }

  assert {
    condition     = output.kafka_nodes[1].instance_id != run.first_apply.kafka_nodes[1].instance_id && output.kafka_nodes[1].ami_id == "ami-0b000000000000002"
    error_message = "The rolled broker is a new instance on the new AMI."
  }
  assert {
    condition     = output.kafka_nodes[0].instance_id == run.first_apply.kafka_nodes[0].instance_id && output.kafka_nodes[2].instance_id == run.first_apply.kafka_nodes[2].instance_id
    error_message = "A roll replaces exactly one broker."
  }
  assert {
    condition     = output.kafka_data_volume_ids == run.first_apply.kafka_data_volume_ids
    error_message = "The rolled broker gets its own data volume back (no volume replaced)."
  }
  assert {
    condition     = output.kafka_network_interface_ids == run.first_apply.kafka_network_interface_ids
    error_message = "Every broker keeps its network interface, hence its address."
  }
  assert {
    condition     = output.kafka_nodes[1].ip == run.first_apply.kafka_nodes[1].ip
    error_message = "The rolled broker keeps its address."
  }
}

run "roll_one_metadata_node" {
  command = apply

  variables {
    ami_ids = {
      app       = "ami-0a000000000000001"
      kafka     = "ami-0b000000000000002"
      zookeeper = "ami-0c000000000000002"
    }
  }

  plan_options {
    replace = [module.zookeeper.aws_instance.node[0]]
    target = [
      module.zookeeper.aws_instance.node[0],
      module.zookeeper.aws_volume_attachment.disk["1-txlog"],
      module.zookeeper.aws_volume_attachment.disk["1-data"],
      module.zookeeper.aws_volume_attachment.disk["1-metadata"],
    ]
  }

  assert {
    condition     = output.zookeeper_nodes[0].instance_id != run.first_apply.zookeeper_nodes[0].instance_id && output.zookeeper_nodes[0].ami_id == "ami-0c000000000000002"
    error_message = "The rolled node is a new instance on the new AMI."
  }
  assert {
    condition     = [for n in slice(output.zookeeper_nodes, 1, 3) : n.instance_id] == [for n in slice(run.first_apply.zookeeper_nodes, 1, 3) : n.instance_id]
    error_message = "A roll replaces exactly one metadata node."
  }
  assert {
    condition     = output.zookeeper_volume_ids == run.first_apply.zookeeper_volume_ids && output.zookeeper_network_interface_ids == run.first_apply.zookeeper_network_interface_ids
    error_message = "The rolled node keeps its volumes and its address."
  }
}

run "pinned_node_keeps_its_image" {
  command = plan

  variables {
    ami_ids = {
      app       = "ami-0a000000000000001"
      kafka     = "ami-0b000000000000003"
      zookeeper = "ami-0c000000000000003"
    }
    pinned_ami_ids = { kafka = { "3" = "ami-0b000000000000001" } }
  }

  assert {
    condition     = output.kafka_nodes[2].wanted_ami == "ami-0b000000000000001" && output.kafka_nodes[0].wanted_ami == "ami-0b000000000000003"
    error_message = "A pinned broker is rolled onto its pinned AMI, the others onto the newest."
  }
}

run "staging_protects_node_data" {
  command = plan

  variables {
    environment = "staging"
  }

  assert {
    condition     = output.node_data_protected
    error_message = "Staging (and prod) must keep the brokers' and metadata nodes' volumes and interfaces under prevent_destroy."
  }
}

run "engineer_environments_can_be_destroyed" {
  command = plan

  assert {
    condition     = !output.node_data_protected
    error_message = "An engineer environment is destroyed daily: no prevent_destroy on its node data."
  }
}
