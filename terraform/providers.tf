provider "aws" {
  region              = var.aws_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  # Each environment may live in its own AWS account: when assume_role_arn is
  # set, Terraform assumes that role in the target account.
  dynamic "assume_role" {
    for_each = var.assume_role_arn == "" ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "terraform-${var.project}-${var.environment}"
      external_id  = var.assume_role_external_id == "" ? null : var.assume_role_external_id
    }
  }

  default_tags {
    tags = merge(
      {
        Project     = var.project
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}
