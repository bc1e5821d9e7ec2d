# Development: small, cheap, easy to tear down.
# Deploy: scripts/deploy.sh dev
environment = "dev"
aws_region  = "us-east-1"

# Account isolation: the role Terraform assumes in the dev account (empty: use
# the caller's credentials), and the account IDs it may touch.
assume_role_arn     = ""
allowed_account_ids = []

# Stream: on-demand, no shards to manage.
stream_mode            = "ON_DEMAND"
shard_count            = 1
stream_retention_hours = 24

# Tables and archive can be destroyed with the environment; on-demand (a dev load
# is small and uneven), no point-in-time recovery, per-user queries kept a week.
table_deletion_protection    = false
table_point_in_time_recovery = false
archive_force_destroy        = true
event_ttl_days               = 7

# The per-type index (GET /v1/events) is off, as by default; to try it:
#   events_gsi_enabled = true
#   gsi_write_shards   = 4

archive_stream_count               = 1
archive_buffering_size_mb          = 64
archive_buffering_interval_seconds = 60

# Functions
rust_log                             = "info,pipeline=debug"
lambda_tracing_mode                  = "Active"
log_retention_days                   = 14
processor_memory_mb                  = 1024
processor_timeout_seconds            = 60
processor_batch_size                 = 100
processor_batching_window_seconds    = 1
processor_parallelization_factor     = 1
processor_maximum_retry_attempts     = 3
processor_maximum_record_age_seconds = 3600

# API
api_throttle_rate_limit     = 50
api_throttle_burst_limit    = 100
api_execution_logging_level = "ERROR"

# Alarms
alarm_email_addresses                      = []
iterator_age_alarm_threshold_ms            = 300000
firehose_freshness_alarm_threshold_seconds = 600

tags = {
  CostCenter = "event-pipeline-dev"
}
