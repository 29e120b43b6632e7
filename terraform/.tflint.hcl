# tflint (scripts/test-infra runs it when it is installed or can be built):
# the bundled Terraform ruleset, every recommended rule. Each root and each
# module is linted on its own; module calls are not followed, since a root
# would hand its modules the Packer manifests, which exist only where
# terraform/env has synced them. The AWS ruleset is a separate plugin
# download and is not used.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
