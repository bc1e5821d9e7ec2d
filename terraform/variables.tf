# ---------------------------------------------------------------------------
# Identity and account
# ---------------------------------------------------------------------------

variable "project" {
  description = "Project name, first part of every resource name (<project>-<environment>-...)."
  type        = string
  default     = "event-pipeline"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.project))
    error_message = "project must be 2-24 characters of lowercase letters, digits and hyphens."
  }
}

variable "environment" {
  description = "Environment name (dev, prod, ...), second part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits."
  }
}

variable "aws_region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-1"
}

variable "assume_role_arn" {
  description = "IAM role Terraform assumes in the environment's account; empty: use the caller's credentials as they are."
  type        = string
  default     = ""
}

variable "assume_role_external_id" {
  description = "External ID required by the trust policy of assume_role_arn; empty: none."
  type        = string
  default     = ""
}

variable "allowed_account_ids" {
  description = "AWS account IDs this environment may be applied to (guards against the wrong credentials); empty: any."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags applied to every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Kinesis stream
# ---------------------------------------------------------------------------

variable "stream_mode" {
  description = "Kinesis capacity mode: ON_DEMAND (scales by itself) or PROVISIONED (shard_count shards)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards of the stream when stream_mode is PROVISIONED; each takes 1 MiB/s and 1,000 records/s of writes."
  type        = number
  default     = 2

  validation {
    condition     = var.shard_count >= 1
    error_message = "shard_count must be at least 1."
  }
}

variable "stream_retention_hours" {
  description = "Hours the stream retains records (24-8760); the window for replaying failed batches."
  type        = number
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760
    error_message = "stream_retention_hours must be between 24 and 8760."
  }
}

variable "stream_shard_level_metrics" {
  description = "Enhanced shard-level Kinesis metrics (billed per shard and metric), e.g. [\"IncomingRecords\", \"WriteProvisionedThroughputExceeded\"]."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------

variable "table_deletion_protection" {
  description = "Enable deletion protection on the events and aggregates tables."
  type        = bool
  default     = true
}

variable "event_ttl_days" {
  description = "Days an event stays in the events table before DynamoDB TTL removes it (EVENT_TTL_DAYS)."
  type        = number
  default     = 30

  validation {
    condition     = var.event_ttl_days >= 1
    error_message = "event_ttl_days must be at least 1."
  }
}

variable "gsi_write_shards" {
  description = "N, the write shards of the per-type index key gsi1pk = TYPE#<event_type>#<0..N-1> (GSI_WRITE_SHARDS); readers query all N."
  type        = number
  default     = 32

  validation {
    condition     = var.gsi_write_shards >= 1 && var.gsi_write_shards <= 1024
    error_message = "gsi_write_shards must be between 1 and 1024."
  }
}

variable "events_gsi_projection_type" {
  description = "Projection of the per-type index: KEYS_ONLY (smallest index writes) or ALL."
  type        = string
  default     = "KEYS_ONLY"
}

variable "events_table_max_write_request_units" {
  description = "Optional on-demand ceiling of write request units per second on the events table (a cost guard); null: none."
  type        = number
  default     = null
}

variable "aggregates_table_max_write_request_units" {
  description = "Optional on-demand ceiling of write request units per second on the aggregates table; null: none."
  type        = number
  default     = null
}

# ---------------------------------------------------------------------------
# Archive (S3 + Firehose) and bad rows
# ---------------------------------------------------------------------------

variable "archive_bucket_name" {
  description = "Name of the archive bucket; empty: <project>-<environment>-archive-<account id>-<region>."
  type        = string
  default     = ""
}

variable "archive_force_destroy" {
  description = "Let terraform destroy delete the archive bucket with its objects (dev only)."
  type        = bool
  default     = false
}

variable "archive_access_log_bucket" {
  description = "Existing bucket receiving S3 server access logs of the archive bucket; empty: no access logging."
  type        = string
  default     = ""
}

variable "bad_rows_prefix" {
  description = "Key prefix of bad rows in the archive bucket (BAD_ROWS_PREFIX)."
  type        = string
  default     = "bad-rows/"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*/$", var.bad_rows_prefix))
    error_message = "bad_rows_prefix must be one path segment ending with /, e.g. bad-rows/."
  }
}

variable "archive_transition_ia_days" {
  description = "Days after which archived events, errors and bad rows move to STANDARD_IA (>= 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_transition_ia_days >= 30
    error_message = "archive_transition_ia_days must be at least 30 (S3 minimum for STANDARD_IA)."
  }
}

variable "archive_transition_glacier_days" {
  description = "Days after which archived objects move to GLACIER (Flexible Retrieval)."
  type        = number
  default     = 90

  validation {
    condition     = var.archive_transition_glacier_days > var.archive_transition_ia_days
    error_message = "archive_transition_glacier_days must be greater than archive_transition_ia_days."
  }
}

variable "archive_expiration_days" {
  description = "Days after which archived objects are deleted; 0 keeps them forever."
  type        = number
  default     = 0

  validation {
    condition     = var.archive_expiration_days == 0 || var.archive_expiration_days > var.archive_transition_glacier_days
    error_message = "archive_expiration_days must be 0 (keep forever) or greater than archive_transition_glacier_days."
  }
}

variable "archive_stream_count" {
  description = "Number of Firehose delivery streams (<project>-<environment>-archive-<i>); each has its own Direct PUT quota."
  type        = number
  default     = 1

  validation {
    condition     = var.archive_stream_count >= 1 && var.archive_stream_count <= 50
    error_message = "archive_stream_count must be between 1 and 50 (the default per-region Firehose stream quota)."
  }
}

variable "archive_buffering_size_mb" {
  description = "Firehose buffer size in MiB per partition (64-128 with dynamic partitioning)."
  type        = number
  default     = 128

  validation {
    condition     = var.archive_buffering_size_mb >= 64 && var.archive_buffering_size_mb <= 128
    error_message = "archive_buffering_size_mb must be between 64 and 128 with dynamic partitioning."
  }
}

variable "archive_buffering_interval_seconds" {
  description = "Firehose buffer interval in seconds (60-900): the longest an event waits before reaching S3."
  type        = number
  default     = 300

  validation {
    condition     = var.archive_buffering_interval_seconds >= 60 && var.archive_buffering_interval_seconds <= 900
    error_message = "archive_buffering_interval_seconds must be between 60 and 900."
  }
}

# ---------------------------------------------------------------------------
# Lambda functions
# ---------------------------------------------------------------------------

variable "processor_zip_path" {
  description = "cargo-lambda zip of the processor, relative to the terraform directory."
  type        = string
  default     = "../target/lambda/processor/bootstrap.zip"
}

variable "aggregator_zip_path" {
  description = "cargo-lambda zip of the aggregator, relative to the terraform directory."
  type        = string
  default     = "../target/lambda/aggregator/bootstrap.zip"
}

variable "query_zip_path" {
  description = "cargo-lambda zip of the query function, relative to the terraform directory."
  type        = string
  default     = "../target/lambda/query/bootstrap.zip"
}

variable "rust_log" {
  description = "RUST_LOG of every function, e.g. info or info,pipeline=debug."
  type        = string
  default     = "info"
}

variable "schemas_dir" {
  description = "Optional SCHEMAS_DIR of the processor (a directory in the deployment package or a layer); empty: the schemas embedded at build time."
  type        = string
  default     = ""
}

variable "enrichments_dir" {
  description = "Optional ENRICHMENTS_DIR of the processor (enrichment files and lookup tables in the deployment package or a layer); empty: the enrichments embedded at build time."
  type        = string
  default     = ""
}

variable "lambda_tracing_mode" {
  description = "X-Ray tracing mode of the functions: PassThrough (trace only sampled upstream requests) or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.lambda_tracing_mode)
    error_message = "lambda_tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, API access logs, Firehose errors), in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "processor_memory_mb" {
  description = "Processor memory in MB (1,769 MB = 1 vCPU; rayon uses every vCPU)."
  type        = number
  default     = 1769
}

variable "processor_timeout_seconds" {
  description = "Processor timeout in seconds; bounds a batch's retries of DynamoDB and Firehose."
  type        = number
  default     = 60
}

variable "processor_reserved_concurrency" {
  description = "Reserved concurrency of the processor; null: unreserved. With a PROVISIONED stream it must be at least shard_count x processor_parallelization_factor."
  type        = number
  default     = null

  validation {
    condition = (
      var.stream_mode == "ON_DEMAND" ||
      coalesce(var.processor_reserved_concurrency, var.shard_count * var.processor_parallelization_factor) >= var.shard_count * var.processor_parallelization_factor
    )
    error_message = "processor_reserved_concurrency must be null or at least shard_count x processor_parallelization_factor, or the consumer is throttled."
  }
}

variable "processor_batch_size" {
  description = "Maximum Kinesis records per processor invocation (1-10000)."
  type        = number
  default     = 500

  validation {
    condition     = var.processor_batch_size >= 1 && var.processor_batch_size <= 10000
    error_message = "processor_batch_size must be between 1 and 10000."
  }
}

variable "processor_batching_window_seconds" {
  description = "Maximum seconds Lambda gathers records before invoking the processor (0-300)."
  type        = number
  default     = 1

  validation {
    condition     = var.processor_batching_window_seconds >= 0 && var.processor_batching_window_seconds <= 300
    error_message = "processor_batching_window_seconds must be between 0 and 300."
  }
}

variable "processor_parallelization_factor" {
  description = "Concurrent processor batches per shard (1-10); order is kept per partition key."
  type        = number
  default     = 1

  validation {
    condition     = var.processor_parallelization_factor >= 1 && var.processor_parallelization_factor <= 10
    error_message = "processor_parallelization_factor must be between 1 and 10."
  }
}

variable "processor_maximum_retry_attempts" {
  description = "Retries of a failing batch (after bisection) before its metadata goes to the on-failure queue (0-10000)."
  type        = number
  default     = 10

  validation {
    condition     = var.processor_maximum_retry_attempts >= 0 && var.processor_maximum_retry_attempts <= 10000
    error_message = "processor_maximum_retry_attempts must be between 0 and 10000 (bounded: -1, infinite, is not allowed)."
  }
}

variable "processor_maximum_record_age_seconds" {
  description = "Records older than this are skipped and reported to the on-failure queue (60-604800); keep it below the stream retention so they can be replayed."
  type        = number
  default     = 21600

  validation {
    condition     = var.processor_maximum_record_age_seconds >= 60 && var.processor_maximum_record_age_seconds <= 604800
    error_message = "processor_maximum_record_age_seconds must be between 60 and 604800."
  }
}

variable "aggregator_memory_mb" {
  description = "Aggregator memory in MB."
  type        = number
  default     = 1024
}

variable "aggregator_timeout_seconds" {
  description = "Aggregator timeout in seconds (keep it below the schedule period)."
  type        = number
  default     = 55
}

variable "aggregator_reserved_concurrency" {
  description = "Reserved concurrency of the aggregator; null: unreserved."
  type        = number
  default     = null
}

variable "aggregator_schedule" {
  description = "EventBridge schedule expression of the aggregator."
  type        = string
  default     = "rate(1 minute)"
}

variable "query_memory_mb" {
  description = "Query function memory in MB."
  type        = number
  default     = 512
}

variable "query_timeout_seconds" {
  description = "Query function timeout in seconds (API Gateway gives up after 29 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.query_timeout_seconds >= 1 && var.query_timeout_seconds <= 29
    error_message = "query_timeout_seconds must be between 1 and 29."
  }
}

variable "query_reserved_concurrency" {
  description = "Reserved concurrency of the query function; null: unreserved."
  type        = number
  default     = null
}

# ---------------------------------------------------------------------------
# API Gateway
# ---------------------------------------------------------------------------

variable "api_stage_name" {
  description = "Stage name, part of the invoke URL (https://<id>.execute-api.<region>.amazonaws.com/<stage>/v1/...)."
  type        = string
  default     = "live"
}

variable "api_throttle_rate_limit" {
  description = "Steady-state requests per second of the API key (usage plan) and of the stage."
  type        = number
  default     = 100
}

variable "api_throttle_burst_limit" {
  description = "Request burst of the API key (usage plan) and of the stage."
  type        = number
  default     = 200
}

variable "api_quota_limit_per_day" {
  description = "Maximum requests per day for the API key; null: no quota."
  type        = number
  default     = null
}

variable "api_minimum_compression_size" {
  description = "Responses at least this many bytes are gzip-compressed for clients that accept it; null: off. Gzip request bodies are accepted either way."
  type        = number
  default     = 1024
}

variable "api_xray_tracing_enabled" {
  description = "Enable X-Ray tracing on the API stage."
  type        = bool
  default     = true
}

variable "api_execution_logging_level" {
  description = "Execution logging level of the stage: OFF, ERROR or INFO."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_execution_logging_level)
    error_message = "api_execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "manage_api_gateway_account" {
  description = "Manage the regional API Gateway account setting (its CloudWatch Logs role, needed for execution logging); false where another stack in the same account and region owns it."
  type        = bool
  default     = true
}

variable "waf_web_acl_arn" {
  description = "Optional WAFv2 web ACL (REGIONAL) associated with the API stage; empty: none."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------
# Observability
# ---------------------------------------------------------------------------

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "iterator_age_alarm_threshold_ms" {
  description = "Alarm when the stream's oldest unread record is older than this many milliseconds."
  type        = number
  default     = 60000
}

variable "firehose_freshness_alarm_threshold_seconds" {
  description = "Alarm when a delivery stream's oldest undelivered record is older than this many seconds (keep it above archive_buffering_interval_seconds)."
  type        = number
  default     = 900
}
