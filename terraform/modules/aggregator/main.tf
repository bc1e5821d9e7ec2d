locals {
  function_name = "${var.name_prefix}-aggregator"
}

# Failed asynchronous invocations (after Lambda's own retries).
resource "aws_sqs_queue" "dlq" {
  name                              = "${local.function_name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

# Exactly what the merge calls (cli/tests/integration/terraform/ scans the code): Query for
# touched minutes, partials and rows; PutItem for rows (conditional on their
# version); DeleteItem for merged markers (conditional on their token).
data "aws_iam_policy_document" "aggregator" {
  statement {
    sid    = "Aggregates"
    effect = "Allow"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [var.aggregates_table_arn]
  }

  statement {
    sid       = "DeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

module "function" {
  source = "../function"

  function_name        = local.function_name
  description          = "Scheduled rollup of partial aggregates (event pipeline)"
  zip_path             = var.zip_path
  memory_mb            = var.memory_mb
  timeout_seconds      = var.timeout_seconds
  reserved_concurrency = var.reserved_concurrency
  policy_json          = data.aws_iam_policy_document.aggregator.json
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  tracing_mode         = var.tracing_mode

  environment = {
    EVENTS_TABLE     = var.events_table_name
    AGGREGATES_TABLE = var.aggregates_table_name
    RUST_LOG         = var.rust_log
  }

  dead_letter_target_arn = aws_sqs_queue.dlq.arn
}

# A schedule tick that is late is superseded by the next one: keep retries short.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = module.function.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 600
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = local.function_name
  description         = "Runs the aggregator (${var.schedule_expression})"
  schedule_expression = var.schedule_expression
}

resource "aws_cloudwatch_event_target" "aggregator" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "aggregator"
  arn       = module.function.function_arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}
