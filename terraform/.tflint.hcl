# tflint (scripts/test-infra runs it when it is installed or can be built):
# the bundled Terraform ruleset, every recommended rule, local modules
# followed from the roots. The AWS ruleset is a separate plugin download and
# is not used.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
