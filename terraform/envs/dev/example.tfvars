# Template of envs/dev/<engineer>.tfvars; terraform/env writes one from it
# the first time an engineer runs it. Commit yours.
engineer = "example"
owner    = "example@owp.invalid"
