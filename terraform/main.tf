locals {
  name_prefix = "${var.project}-${var.environment}"
}

module "kms" {
  source = "./modules/kms"

  name_prefix = local.name_prefix
}

module "stream" {
  source = "./modules/stream"

  name                = "${local.name_prefix}-events"
  stream_mode         = var.stream_mode
  shard_count         = var.shard_count
  retention_hours     = var.stream_retention_hours
  kms_key_arn         = module.kms.key_arn
  shard_level_metrics = var.stream_shard_level_metrics
}

module "storage" {
  source = "./modules/storage"

  name_prefix                        = local.name_prefix
  kms_key_arn                        = module.kms.key_arn
  deletion_protection                = var.table_deletion_protection
  point_in_time_recovery             = var.table_point_in_time_recovery
  events_gsi_enabled                 = var.events_gsi_enabled
  events_gsi_projection_type         = var.events_gsi_projection_type
  events_billing_mode                = var.events_table_billing_mode
  aggregates_billing_mode            = var.aggregates_table_billing_mode
  events_table_class                 = var.events_table_class
  aggregates_table_class             = var.aggregates_table_class
  autoscaling_target_percent         = var.table_autoscaling_target_percent
  events_max_write_request_units     = var.events_table_max_write_request_units
  aggregates_max_write_request_units = var.aggregates_table_max_write_request_units

  events_capacity = {
    min_read  = var.events_table_min_read_capacity
    max_read  = var.events_table_max_read_capacity
    min_write = var.events_table_min_write_capacity
    max_write = var.events_table_max_write_capacity
  }
  aggregates_capacity = {
    min_read  = var.aggregates_table_min_read_capacity
    max_read  = var.aggregates_table_max_read_capacity
    min_write = var.aggregates_table_min_write_capacity
    max_write = var.aggregates_table_max_write_capacity
  }
}

module "archive" {
  source = "./modules/archive"

  name_prefix                = local.name_prefix
  bucket_name                = var.archive_bucket_name
  kms_key_arn                = module.kms.key_arn
  force_destroy              = var.archive_force_destroy
  access_log_bucket          = var.archive_access_log_bucket
  bad_rows_prefix            = var.bad_rows_prefix
  transition_ia_days         = var.archive_transition_ia_days
  transition_glacier_days    = var.archive_transition_glacier_days
  expiration_days            = var.archive_expiration_days
  stream_count               = var.archive_stream_count
  buffering_size_mb          = var.archive_buffering_size_mb
  buffering_interval_seconds = var.archive_buffering_interval_seconds
  log_retention_days         = var.log_retention_days
}

module "processor" {
  source = "./modules/processor"

  name_prefix          = local.name_prefix
  zip_path             = var.processor_zip_path
  memory_mb            = var.processor_memory_mb
  timeout_seconds      = var.processor_timeout_seconds
  reserved_concurrency = var.processor_reserved_concurrency
  tracing_mode         = var.lambda_tracing_mode
  log_retention_days   = var.log_retention_days
  kms_key_arn          = module.kms.key_arn

  stream_arn            = module.stream.arn
  events_table_name     = module.storage.events_table_name
  events_table_arn      = module.storage.events_table_arn
  aggregates_table_name = module.storage.aggregates_table_name
  aggregates_table_arn  = module.storage.aggregates_table_arn
  delivery_stream_names = module.archive.delivery_stream_names
  delivery_stream_arns  = module.archive.delivery_stream_arns
  bad_rows_bucket_name  = module.archive.bucket_name
  bad_rows_bucket_arn   = module.archive.bucket_arn
  bad_rows_prefix       = var.bad_rows_prefix
  event_ttl_days        = var.event_ttl_days
  gsi_write_shards      = var.events_gsi_enabled ? var.gsi_write_shards : null
  query_event_types     = var.query_event_types
  rust_log              = var.rust_log
  schemas_dir           = var.schemas_dir
  enrichments_dir       = var.enrichments_dir

  batch_size                         = var.processor_batch_size
  maximum_batching_window_in_seconds = var.processor_batching_window_seconds
  parallelization_factor             = var.processor_parallelization_factor
  maximum_retry_attempts             = var.processor_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.processor_maximum_record_age_seconds
}

module "aggregator" {
  source = "./modules/aggregator"

  name_prefix          = local.name_prefix
  zip_path             = var.aggregator_zip_path
  memory_mb            = var.aggregator_memory_mb
  timeout_seconds      = var.aggregator_timeout_seconds
  reserved_concurrency = var.aggregator_reserved_concurrency
  tracing_mode         = var.lambda_tracing_mode
  log_retention_days   = var.log_retention_days
  kms_key_arn          = module.kms.key_arn

  events_table_name     = module.storage.events_table_name
  events_table_arn      = module.storage.events_table_arn
  aggregates_table_name = module.storage.aggregates_table_name
  aggregates_table_arn  = module.storage.aggregates_table_arn
  rust_log              = var.rust_log
  schedule_expression   = var.aggregator_schedule
}

module "query" {
  source = "./modules/query"

  name_prefix          = local.name_prefix
  zip_path             = var.query_zip_path
  memory_mb            = var.query_memory_mb
  timeout_seconds      = var.query_timeout_seconds
  reserved_concurrency = var.query_reserved_concurrency
  tracing_mode         = var.lambda_tracing_mode
  log_retention_days   = var.log_retention_days
  kms_key_arn          = module.kms.key_arn

  events_table_name     = module.storage.events_table_name
  events_table_arn      = module.storage.events_table_arn
  aggregates_table_name = module.storage.aggregates_table_name
  aggregates_table_arn  = module.storage.aggregates_table_arn
  events_gsi_name       = var.events_gsi_enabled ? module.storage.events_gsi_name : null
  gsi_write_shards      = var.events_gsi_enabled ? var.gsi_write_shards : null
  rust_log              = var.rust_log
}

module "api" {
  source = "./modules/api"

  name_prefix                 = local.name_prefix
  stream_name                 = module.stream.name
  stream_arn                  = module.stream.arn
  kms_key_arn                 = module.kms.key_arn
  query_function_name         = module.query.function_name
  query_invoke_arn            = module.query.invoke_arn
  type_events_route           = var.events_gsi_enabled
  stage_name                  = var.api_stage_name
  throttle_rate_limit         = var.api_throttle_rate_limit
  throttle_burst_limit        = var.api_throttle_burst_limit
  quota_limit_per_day         = var.api_quota_limit_per_day
  minimum_compression_size    = var.api_minimum_compression_size
  xray_tracing_enabled        = var.api_xray_tracing_enabled
  execution_logging_level     = var.api_execution_logging_level
  manage_account_logging_role = var.manage_api_gateway_account
  log_retention_days          = var.log_retention_days
  waf_web_acl_arn             = var.waf_web_acl_arn
}

module "observability" {
  source = "./modules/observability"

  name_prefix           = local.name_prefix
  kms_key_arn           = module.kms.key_arn
  alarm_email_addresses = var.alarm_email_addresses
  stream_name           = module.stream.name

  function_names = {
    processor  = module.processor.function_name
    aggregator = module.aggregator.function_name
    query      = module.query.function_name
  }
  processor_function_name = module.processor.function_name

  queue_names = {
    processor_on_failure = module.processor.on_failure_queue_name
    aggregator_dlq       = module.aggregator.dlq_name
  }

  table_names = {
    events     = module.storage.events_table_name
    aggregates = module.storage.aggregates_table_name
  }
  events_table_name = module.storage.events_table_name
  events_gsi_name   = var.events_gsi_enabled ? module.storage.events_gsi_name : null

  delivery_stream_names           = module.archive.delivery_stream_names
  archive_bucket_name             = module.archive.bucket_name
  archive_errors_metric_filter_id = module.archive.errors_metric_filter_id
  api_name                        = module.api.api_name
  api_stage_name                  = module.api.stage_name

  iterator_age_threshold_ms            = var.iterator_age_alarm_threshold_ms
  firehose_freshness_threshold_seconds = var.firehose_freshness_alarm_threshold_seconds
}
