# Production: sized for 100,000 events/s of ~600 bytes (60 MB/s) with headroom.
# The reasoning is in docs/DEPLOY.md ("Sizing prod"). Deploy: scripts/deploy.sh prod
environment = "prod"
aws_region  = "us-east-1" # Firehose Direct PUT is 5 MiB/s per stream here (1 MiB/s in most regions)

# Account isolation: set the role Terraform assumes in the prod account and
# pin the account ID, e.g.
#   assume_role_arn     = "arn:aws:iam::123456789012:role/terraform-deploy"
#   allowed_account_ids = ["123456789012"]
assume_role_arn     = ""
allowed_account_ids = []

# Stream: 100,000 records/s needs >= 100 shards (1,000 records/s each) and
# 60 MB/s needs >= 58 shards (1 MiB/s each); records bind. 128 shards leave
# ~22% headroom and split the hash-key space evenly. ON_DEMAND also works
# (default quota 200 MiB/s, 200,000 records/s) but ramps up from 4 MiB/s.
stream_mode                = "PROVISIONED"
shard_count                = 128
stream_retention_hours     = 48
stream_shard_level_metrics = ["IncomingRecords", "WriteProvisionedThroughputExceeded"]

# Tables: protected; per-user queries kept 7 days; no per-type index (the default:
# it would double the writes). The load is steady, so both tables are
# PROVISIONED with auto scaling: a 600 B event is one compressed write unit, so
# 100,000 events/s take 100,000 WCU, 125,000 at an 80 % target; the maxima leave
# 25 % above that (`pipeline plan --rate 100000 --event-bytes 600 --query-days 7`
# plans the same; its tfvars can be applied after this file). Point-in-time
# recovery stays on here (about $12,000 a month at this size): the plan turns it
# off unless --pitr, since the archive keeps every event.
# Request the table-level (>= 160,000 WCU) and account-level provisioned (>= 165,000 WCU)
# quota increases before launch (docs/DEPLOY.md, "Sizing prod").
table_deletion_protection           = true
table_point_in_time_recovery        = true
event_ttl_days                      = 7
events_table_billing_mode           = "PROVISIONED"
events_table_min_write_capacity     = 12500
events_table_max_write_capacity     = 160000
events_table_min_read_capacity      = 5
events_table_max_read_capacity      = 1000
aggregates_table_billing_mode       = "PROVISIONED"
aggregates_table_class              = "STANDARD_INFREQUENT_ACCESS"
aggregates_table_min_write_capacity = 250
aggregates_table_max_write_capacity = 3000
aggregates_table_min_read_capacity  = 100
aggregates_table_max_read_capacity  = 5000
table_autoscaling_target_percent    = 80

# Archive: ~90 MB/s of enriched JSON / 5 MiB/s per Direct PUT stream = 18
# streams at 100%; 24 keep ~30% headroom (stay under the 50-stream quota).
archive_stream_count               = 24
archive_buffering_size_mb          = 128
archive_buffering_interval_seconds = 300
archive_transition_ia_days         = 30
archive_transition_glacier_days    = 90

# Processor: one invocation per shard and second (~780 records) normally,
# twice that to catch up: 128 shards x 2 = 256 concurrent executions, reserved.
rust_log                             = "info"
lambda_tracing_mode                  = "PassThrough"
log_retention_days                   = 365
processor_memory_mb                  = 1769
processor_timeout_seconds            = 60
processor_batch_size                 = 1000
processor_batching_window_seconds    = 1
processor_parallelization_factor     = 2
processor_reserved_concurrency       = 256
processor_maximum_retry_attempts     = 10
processor_maximum_record_age_seconds = 21600

# API: 100,000 events/s in batches of 100-500 events is 200-1,000 requests/s.
api_throttle_rate_limit     = 2000
api_throttle_burst_limit    = 5000
api_execution_logging_level = "ERROR"

# Alarms
alarm_email_addresses                      = []
iterator_age_alarm_threshold_ms            = 60000
firehose_freshness_alarm_threshold_seconds = 900
