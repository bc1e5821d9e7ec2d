locals {
  function_name = "${var.name_prefix}-query"
  index_arns    = var.events_gsi_name == null ? [] : ["${var.events_table_arn}/index/${var.events_gsi_name}"]
}

# The query API reads with Query: a user's events (events table), aggregate
# rows (aggregates table) and, where the per-type index is on, one type's
# events (the index), whose items it then reads with BatchGetItem.
data "aws_iam_policy_document" "query" {
  statement {
    sid       = "ReadTables"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = concat([var.events_table_arn, var.aggregates_table_arn], local.index_arns)
  }

  statement {
    sid       = "ReadIndexedItems"
    effect    = "Allow"
    actions   = ["dynamodb:BatchGetItem"]
    resources = [var.events_table_arn]
  }

  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

module "function" {
  source = "../function"

  function_name        = local.function_name
  description          = "GET query API over DynamoDB (event pipeline)"
  zip_path             = var.zip_path
  memory_mb            = var.memory_mb
  timeout_seconds      = var.timeout_seconds
  reserved_concurrency = var.reserved_concurrency
  policy_json          = data.aws_iam_policy_document.query.json
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  tracing_mode         = var.tracing_mode

  environment = merge(
    {
      EVENTS_TABLE     = var.events_table_name
      AGGREGATES_TABLE = var.aggregates_table_name
      RUST_LOG         = var.rust_log
    },
    # Where the per-type index is on, the function serves GET /v1/events from it.
    var.gsi_write_shards == null ? {} : { GSI_WRITE_SHARDS = tostring(var.gsi_write_shards) },
  )
}
