# S3 backend of the prod state: terraform init -backend-config=envs/prod.backend.hcl
# A separate bucket (in the prod account) keeps dev credentials away from prod state.
bucket       = "event-pipeline-prod-tfstate"
key          = "event-pipeline/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true

# When the state lives in another account than your credentials:
# assume_role = {
#   role_arn = "arn:aws:iam::222222222222:role/terraform-state"
# }
