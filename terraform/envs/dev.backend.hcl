# S3 backend of the dev state: terraform init -backend-config=envs/dev.backend.hcl
# The bucket must exist (versioned, encrypted) in the dev account.
bucket       = "event-pipeline-dev-tfstate"
key          = "event-pipeline/dev/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true

# When the state lives in another account than your credentials:
# assume_role = {
#   role_arn = "arn:aws:iam::111111111111:role/terraform-state"
# }
