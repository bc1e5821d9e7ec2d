locals {
  function_name = "${var.name_prefix}-processor"
  bad_rows_keys = "${var.bad_rows_bucket_arn}/${var.bad_rows_prefix}*"

  environment = merge(
    {
      EVENTS_TABLE     = var.events_table_name
      AGGREGATES_TABLE = var.aggregates_table_name
      ARCHIVE_STREAMS  = join(",", var.delivery_stream_names)
      BAD_ROWS_BUCKET  = var.bad_rows_bucket_name
      BAD_ROWS_PREFIX  = var.bad_rows_prefix
      EVENT_TTL_DAYS   = tostring(var.event_ttl_days)
      RUST_LOG         = var.rust_log
    },
    # DESIGN section 8: only where the per-type index is on.
    var.gsi_write_shards == null ? {} : { GSI_WRITE_SHARDS = tostring(var.gsi_write_shards) },
    length(var.query_event_types) == 0 ? {} : { QUERY_EVENT_TYPES = join(",", var.query_event_types) },
    var.schemas_dir == "" ? {} : { SCHEMAS_DIR = var.schemas_dir },
    var.enrichments_dir == "" ? {} : { ENRICHMENTS_DIR = var.enrichments_dir },
  )
}

# Metadata of batches that still fail after the retries (shard, sequence
# range): replay them from the stream while it still retains them.
resource "aws_sqs_queue" "on_failure" {
  name                              = "${local.function_name}-on-failure"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

# What the event source mapping (it polls the stream as this role), its
# on-failure destination and the processor's own SDK calls need; each action
# with its source is listed in cli/tests/integration/terraform/, which holds this
# document to the code.
data "aws_iam_policy_document" "processor" {
  statement {
    sid    = "ReadStream"
    effect = "Allow"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [var.stream_arn]
  }

  # Listed by the Lambda guide for Kinesis event source mappings; ListStreams
  # is an account-level action (no resource type), so it takes "*".
  # (SubscribeToShard would be needed for an enhanced fan-out consumer, which
  # this stack does not create.)
  statement {
    sid       = "ListStreams"
    effect    = "Allow"
    actions   = ["kinesis:ListStreams"]
    resources = ["*"]
  }

  # Events (DynamoEventStore) and partial aggregates (DynamoAggregateStore).
  statement {
    sid       = "WriteTables"
    effect    = "Allow"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [var.events_table_arn, var.aggregates_table_arn]
  }

  statement {
    sid       = "Archive"
    effect    = "Allow"
    actions   = ["firehose:PutRecordBatch"]
    resources = var.delivery_stream_arns
  }

  statement {
    sid       = "BadRows"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = [local.bad_rows_keys]
  }

  statement {
    sid       = "OnFailureQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.on_failure.arn]
  }

  # Decrypt the stream's records; data keys for the encrypted tables, bad-row
  # objects (SSE-KMS) and the on-failure queue.
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
  description          = "Kinesis batch consumer: validate, enrich, store, archive (event pipeline)"
  zip_path             = var.zip_path
  memory_mb            = var.memory_mb
  timeout_seconds      = var.timeout_seconds
  reserved_concurrency = var.reserved_concurrency
  environment          = local.environment
  policy_json          = data.aws_iam_policy_document.processor.json
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  tracing_mode         = var.tracing_mode
}

resource "aws_lambda_event_source_mapping" "kinesis" {
  event_source_arn = var.stream_arn
  function_name    = module.function.function_arn
  # From the oldest record the stream retains: events producers wrote before
  # the mapping existed (or while it was replaced) are processed, not skipped.
  # Writes are idempotent, so records processed before are only written again.
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.on_failure.arn
    }
  }

  metrics_config {
    metrics = ["EventCount"]
  }
}
