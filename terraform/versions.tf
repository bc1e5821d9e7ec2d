terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Partial configuration: bucket, key and region come from
  # envs/<env>.backend.hcl (terraform init -backend-config=envs/<env>.backend.hcl).
  backend "s3" {}
}
