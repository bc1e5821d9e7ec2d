# ---------------------------------------------------------------------------
# Identity and account
# ---------------------------------------------------------------------------

variable "project" {
  description = "Project name, first part of every resource name (<project>-<environment>-...)."
  type        = string
  default     = "event-pipeline"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.project))
    error_message = "project must be 2-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }

  # The archive bucket's default name starts with the project: S3 reserves these prefixes.
  validation {
    condition     = !startswith(var.project, "xn--") && !startswith(var.project, "sthree-") && !startswith(var.project, "amzn-s3-demo-")
    error_message = "project must not start with xn--, sthree- or amzn-s3-demo- (prefixes S3 reserves in bucket names)."
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

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as us-east-1 or eu-central-2."
  }
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

variable "events_gsi_enabled" {
  description = "Create the per-type index on the events table (and serve GET /v1/events from it). Off by default: every event written to it is a second write and more storage."
  type        = bool
  default     = false
}

variable "query_event_types" {
  description = "Event types kept in the events table for per-user queries (QUERY_EVENT_TYPES); empty: every type. Other types reach the archive and the aggregates only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.query_event_types : length(regexall("^[a-z][a-z0-9_]{0,63}$", t)) > 0])
    error_message = "query_event_types must be event type names (^[a-z][a-z0-9_]{0,63}$), e.g. [\"pageview\", \"purchase\"]; the processor also refuses types its schemas do not define."
  }
}

variable "table_point_in_time_recovery" {
  description = "Point-in-time recovery of the events and aggregates tables (billed per GB-month of table data; the archive in S3 keeps every event either way)."
  type        = bool
  default     = true
}

variable "events_table_class" {
  description = "Table class of the events table: STANDARD, or STANDARD_INFREQUENT_ACCESS (storage 60 % cheaper, writes 25 % dearer)."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "STANDARD_INFREQUENT_ACCESS"], var.events_table_class)
    error_message = "events_table_class must be STANDARD or STANDARD_INFREQUENT_ACCESS."
  }
}

variable "aggregates_table_class" {
  description = "Table class of the aggregates table: STANDARD or STANDARD_INFREQUENT_ACCESS."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "STANDARD_INFREQUENT_ACCESS"], var.aggregates_table_class)
    error_message = "aggregates_table_class must be STANDARD or STANDARD_INFREQUENT_ACCESS."
  }
}

variable "events_table_billing_mode" {
  description = "PAY_PER_REQUEST (on-demand: follows any load, dearer per write) or PROVISIONED (Application Auto Scaling between events_table_min/max_*_capacity: cheaper for steady loads)."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.events_table_billing_mode)
    error_message = "events_table_billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "aggregates_table_billing_mode" {
  description = "PAY_PER_REQUEST or PROVISIONED (Application Auto Scaling between aggregates_table_min/max_*_capacity)."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.aggregates_table_billing_mode)
    error_message = "aggregates_table_billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "events_table_min_write_capacity" {
  description = "PROVISIONED events table: the fewest write capacity units/s auto scaling goes down to."
  type        = number
  default     = 5

  validation {
    condition     = var.events_table_min_write_capacity >= 1
    error_message = "events_table_min_write_capacity must be at least 1."
  }
}

variable "events_table_max_write_capacity" {
  description = "PROVISIONED events table: the most write capacity units/s auto scaling goes up to (and the index's fixed write capacity where the index is on)."
  type        = number
  default     = 1000

  validation {
    condition     = var.events_table_max_write_capacity >= var.events_table_min_write_capacity
    error_message = "events_table_max_write_capacity must be at least events_table_min_write_capacity."
  }
}

variable "events_table_min_read_capacity" {
  description = "PROVISIONED events table: the fewest read capacity units/s (per-user queries)."
  type        = number
  default     = 5

  validation {
    condition     = var.events_table_min_read_capacity >= 1
    error_message = "events_table_min_read_capacity must be at least 1."
  }
}

variable "events_table_max_read_capacity" {
  description = "PROVISIONED events table: the most read capacity units/s."
  type        = number
  default     = 100

  validation {
    condition     = var.events_table_max_read_capacity >= var.events_table_min_read_capacity
    error_message = "events_table_max_read_capacity must be at least events_table_min_read_capacity."
  }
}

variable "aggregates_table_min_write_capacity" {
  description = "PROVISIONED aggregates table: the fewest write capacity units/s."
  type        = number
  default     = 5

  validation {
    condition     = var.aggregates_table_min_write_capacity >= 1
    error_message = "aggregates_table_min_write_capacity must be at least 1."
  }
}

variable "aggregates_table_max_write_capacity" {
  description = "PROVISIONED aggregates table: the most write capacity units/s."
  type        = number
  default     = 1000

  validation {
    condition     = var.aggregates_table_max_write_capacity >= var.aggregates_table_min_write_capacity
    error_message = "aggregates_table_max_write_capacity must be at least aggregates_table_min_write_capacity."
  }
}

variable "aggregates_table_min_read_capacity" {
  description = "PROVISIONED aggregates table: the fewest read capacity units/s (the aggregator and queries)."
  type        = number
  default     = 5

  validation {
    condition     = var.aggregates_table_min_read_capacity >= 1
    error_message = "aggregates_table_min_read_capacity must be at least 1."
  }
}

variable "aggregates_table_max_read_capacity" {
  description = "PROVISIONED aggregates table: the most read capacity units/s."
  type        = number
  default     = 100

  validation {
    condition     = var.aggregates_table_max_read_capacity >= var.aggregates_table_min_read_capacity
    error_message = "aggregates_table_max_read_capacity must be at least aggregates_table_min_read_capacity."
  }
}

variable "table_autoscaling_target_percent" {
  description = "PROVISIONED tables: the utilisation auto scaling keeps (consumed / provisioned, 20-90 %); the rest is headroom for what rises faster than the scaler (minutes)."
  type        = number
  default     = 70

  validation {
    condition     = var.table_autoscaling_target_percent >= 20 && var.table_autoscaling_target_percent <= 90
    error_message = "table_autoscaling_target_percent must be between 20 and 90 (Application Auto Scaling's range for DynamoDB)."
  }
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
  description = "Where events_gsi_enabled: N, the write shards of the per-type index key gsi1pk = TYPE#<event_type>#<0..N-1> (GSI_WRITE_SHARDS); readers query all N."
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

  validation {
    condition     = contains(["KEYS_ONLY", "ALL"], var.events_gsi_projection_type)
    error_message = "events_gsi_projection_type must be KEYS_ONLY or ALL."
  }
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
  description = "Name of the archive bucket; empty: <project>-<environment>-archive-<account id>-<region> (past S3's 63 characters, <project>-<environment>-archive-<12 hex digits of a hash of account and region>)."
  type        = string
  default     = ""

  validation {
    condition     = var.archive_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.archive_bucket_name))
    error_message = "archive_bucket_name must be empty (the default name) or an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
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
  description = "Days after which archived objects move to GLACIER (Flexible Retrieval); at least archive_transition_ia_days + 30."
  type        = number
  default     = 90

  validation {
    condition     = var.archive_transition_glacier_days >= var.archive_transition_ia_days + 30
    error_message = "archive_transition_glacier_days must be at least archive_transition_ia_days + 30 (S3 refuses a GLACIER transition less than 30 days after the STANDARD_IA one in the same rule)."
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

  validation {
    condition     = var.processor_memory_mb >= 128 && var.processor_memory_mb <= 10240
    error_message = "processor_memory_mb must be between 128 and 10240 (Lambda's range)."
  }
}

variable "processor_timeout_seconds" {
  description = "Processor timeout in seconds; bounds a batch's retries of DynamoDB and Firehose."
  type        = number
  default     = 60

  validation {
    condition     = var.processor_timeout_seconds >= 3 && var.processor_timeout_seconds <= 900
    error_message = "processor_timeout_seconds must be between 3 (the handler keeps 1.5 s to answer) and 900 (Lambda's maximum)."
  }
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

  validation {
    condition     = var.processor_maximum_record_age_seconds < var.stream_retention_hours * 3600
    error_message = "processor_maximum_record_age_seconds must be below stream_retention_hours x 3600: a skipped batch must still be in the stream to be replayed."
  }
}

variable "aggregator_memory_mb" {
  description = "Aggregator memory in MB."
  type        = number
  default     = 1024

  validation {
    condition     = var.aggregator_memory_mb >= 128 && var.aggregator_memory_mb <= 10240
    error_message = "aggregator_memory_mb must be between 128 and 10240 (Lambda's range)."
  }
}

variable "aggregator_timeout_seconds" {
  description = "Aggregator timeout in seconds (keep it below the schedule period)."
  type        = number
  default     = 55

  validation {
    condition     = var.aggregator_timeout_seconds >= 15 && var.aggregator_timeout_seconds <= 900
    error_message = "aggregator_timeout_seconds must be between 15 (the handler stops new merge rounds 10 s before its deadline) and 900."
  }
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

  validation {
    condition     = var.query_memory_mb >= 128 && var.query_memory_mb <= 10240
    error_message = "query_memory_mb must be between 128 and 10240 (Lambda's range)."
  }
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

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.api_stage_name))
    error_message = "api_stage_name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "api_throttle_rate_limit" {
  description = "Steady-state requests per second of the API key (usage plan) and of the stage."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttle_rate_limit >= 1
    error_message = "api_throttle_rate_limit must be at least 1 request per second."
  }
}

variable "api_throttle_burst_limit" {
  description = "Request burst of the API key (usage plan) and of the stage."
  type        = number
  default     = 200

  validation {
    condition     = var.api_throttle_burst_limit >= 1
    error_message = "api_throttle_burst_limit must be at least 1 request."
  }
}

variable "api_quota_limit_per_day" {
  description = "Maximum requests per day for the API key; null: no quota."
  type        = number
  default     = null

  validation {
    condition     = var.api_quota_limit_per_day == null || coalesce(var.api_quota_limit_per_day, 1) >= 1
    error_message = "api_quota_limit_per_day must be null (no quota) or at least 1."
  }
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

  validation {
    condition     = alltrue([for address in var.alarm_email_addresses : length(regexall("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address)) > 0])
    error_message = "alarm_email_addresses must be e-mail addresses (name@example.com)."
  }
}

variable "iterator_age_alarm_threshold_ms" {
  description = "Alarm when the stream's oldest unread record is older than this many milliseconds."
  type        = number
  default     = 60000

  validation {
    condition     = var.iterator_age_alarm_threshold_ms >= 1000
    error_message = "iterator_age_alarm_threshold_ms must be at least 1000 (a batching window of 1 s already ages records that much)."
  }
}

variable "firehose_freshness_alarm_threshold_seconds" {
  description = "Alarm when a delivery stream's oldest undelivered record is older than this many seconds (above archive_buffering_interval_seconds)."
  type        = number
  default     = 900

  validation {
    condition     = var.firehose_freshness_alarm_threshold_seconds > var.archive_buffering_interval_seconds
    error_message = "firehose_freshness_alarm_threshold_seconds must be above archive_buffering_interval_seconds, or every buffered record raises the alarm."
  }
}
