data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  alarm_defaults = {
    alarm_actions      = [aws_sns_topic.alarms.arn]
    ok_actions         = [aws_sns_topic.alarms.arn]
    treat_missing_data = "notBreaching"
  }

  function_keys = sort(keys(var.function_names))
  table_keys    = sort(keys(var.table_names))
}

# ---------------------------------------------------------------------------
# Alarm topic
# ---------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------

# The consumer falls behind: records wait longer than the threshold.
resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.name_prefix}-stream-iterator-age"
  alarm_description   = "Oldest record of ${var.stream_name} is older than ${var.iterator_age_threshold_ms} ms: the processor is falling behind"
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = var.stream_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.iterator_age_threshold_ms
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# Producers are throttled by the stream: add shards (or switch to ON_DEMAND).
resource "aws_cloudwatch_metric_alarm" "stream_write_throttled" {
  alarm_name          = "${var.name_prefix}-stream-write-throttled"
  alarm_description   = "Writes to ${var.stream_name} exceed its throughput: producers get 429s"
  namespace           = "AWS/Kinesis"
  metric_name         = "WriteProvisionedThroughputExceeded"
  dimensions          = { StreamName = var.stream_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = var.function_names

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The ${each.key} function reports errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = var.function_names

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "The ${each.key} function is throttled (concurrency limit)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# Anything in these queues is data that needs an operator (replay or fix).
resource "aws_cloudwatch_metric_alarm" "queue_not_empty" {
  for_each = var.queue_names

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Queue ${each.value} (${each.key}) has messages: failed batches or invocations to replay"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "dynamodb_write_throttles" {
  for_each = var.table_names

  alarm_name          = "${each.value}-write-throttles"
  alarm_description   = "Writes to table ${each.value} are throttled"
  namespace           = "AWS/DynamoDB"
  metric_name         = "WriteThrottleEvents"
  dimensions          = { TableName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "dynamodb_batch_write_throttled" {
  for_each = var.table_names

  alarm_name          = "${each.value}-batch-write-throttled-requests"
  alarm_description   = "BatchWriteItem requests on ${each.value} are throttled"
  namespace           = "AWS/DynamoDB"
  metric_name         = "ThrottledRequests"
  dimensions          = { TableName = each.value, Operation = "BatchWriteItem" }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# A throttled index back-pressures every write of the base table.
resource "aws_cloudwatch_metric_alarm" "dynamodb_gsi_write_throttles" {
  count = var.events_gsi_name == null ? 0 : 1

  alarm_name          = "${var.events_table_name}-${var.events_gsi_name}-write-throttles"
  alarm_description   = "Writes to index ${var.events_gsi_name} of ${var.events_table_name} are throttled (hot index partition? raise gsi_write_shards)"
  namespace           = "AWS/DynamoDB"
  metric_name         = "WriteThrottleEvents"
  dimensions          = { TableName = var.events_table_name, GlobalSecondaryIndexName = var.events_gsi_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "firehose_freshness" {
  for_each = toset(var.delivery_stream_names)

  alarm_name          = "${each.value}-data-freshness"
  alarm_description   = "Oldest record of ${each.value} has waited more than ${var.firehose_freshness_threshold_seconds} s for delivery to S3"
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.DataFreshness"
  dimensions          = { DeliveryStreamName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.firehose_freshness_threshold_seconds
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# Direct PUT quota exceeded: the processor retries, but add delivery streams.
resource "aws_cloudwatch_metric_alarm" "firehose_throttled" {
  for_each = toset(var.delivery_stream_names)

  alarm_name          = "${each.value}-throttled-records"
  alarm_description   = "${each.value} throttles records: its Direct PUT quota is exceeded (raise archive_stream_count or the quota)"
  namespace           = "AWS/Firehose"
  metric_name         = "ThrottledRecords"
  dimensions          = { DeliveryStreamName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# More than the stream's active partitions (500 by default) in its buffer:
# the records of further partitions go to errors/activePartitionExceeded/.
# A backfill over many hours, or producers with skewed clocks, reach it.
resource "aws_cloudwatch_metric_alarm" "firehose_partition_count_exceeded" {
  for_each = toset(var.delivery_stream_names)

  alarm_name          = "${each.value}-partition-count-exceeded"
  alarm_description   = "${each.value} has more active partitions than its quota (500 by default): records go to the archive's errors/activePartitionExceeded/ prefix instead of events/"
  namespace           = "AWS/Firehose"
  metric_name         = "PartitionCountExceeded"
  dimensions          = { DeliveryStreamName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# Any object under errors/ holds events that missed the partitioned layout
# (S3 request metrics of that prefix, made in the archive module).
resource "aws_cloudwatch_metric_alarm" "archive_error_objects" {
  alarm_name          = "${var.archive_bucket_name}-error-objects"
  alarm_description   = "Firehose wrote objects under errors/ in ${var.archive_bucket_name}: events missed events/ (partition limit, or events without event_type/_pipeline.dt/hr); see docs/DEPLOY.md"
  namespace           = "AWS/S3"
  metric_name         = "PutRequests"
  dimensions          = { BucketName = var.archive_bucket_name, FilterId = var.archive_errors_metric_filter_id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.api_name}-5xx"
  alarm_description   = "The API answers 5xx (Kinesis or query Lambda failures)"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  alarm_actions       = local.alarm_defaults.alarm_actions
  ok_actions          = local.alarm_defaults.ok_actions
  treat_missing_data  = local.alarm_defaults.treat_missing_data
}

# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------

locals {
  all_alarm_arns = concat(
    [
      aws_cloudwatch_metric_alarm.iterator_age.arn,
      aws_cloudwatch_metric_alarm.stream_write_throttled.arn,
      aws_cloudwatch_metric_alarm.api_5xx.arn,
      aws_cloudwatch_metric_alarm.archive_error_objects.arn,
    ],
    [for a in aws_cloudwatch_metric_alarm.lambda_errors : a.arn],
    [for a in aws_cloudwatch_metric_alarm.lambda_throttles : a.arn],
    [for a in aws_cloudwatch_metric_alarm.queue_not_empty : a.arn],
    [for a in aws_cloudwatch_metric_alarm.dynamodb_write_throttles : a.arn],
    [for a in aws_cloudwatch_metric_alarm.dynamodb_batch_write_throttled : a.arn],
    [for a in aws_cloudwatch_metric_alarm.firehose_freshness : a.arn],
    [for a in aws_cloudwatch_metric_alarm.firehose_throttled : a.arn],
    [for a in aws_cloudwatch_metric_alarm.firehose_partition_count_exceeded : a.arn],
    aws_cloudwatch_metric_alarm.dynamodb_gsi_write_throttles[*].arn,
  )

  widgets = [
    {
      title = "Ingest: Kinesis incoming records and bytes (per minute)"
      metrics = [
        ["AWS/Kinesis", "IncomingRecords", "StreamName", var.stream_name, { stat = "Sum", label = "records" }],
        ["AWS/Kinesis", "IncomingBytes", "StreamName", var.stream_name, { stat = "Sum", label = "bytes", yAxis = "right" }],
      ]
    },
    {
      title = "Kinesis: iterator age (ms) and throttling"
      metrics = [
        ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", var.stream_name, { stat = "Maximum", label = "iterator age max (ms)" }],
        ["AWS/Lambda", "IteratorAge", "FunctionName", var.processor_function_name, { stat = "Maximum", label = "processor iterator age (ms)" }],
        ["AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", var.stream_name, { stat = "Sum", label = "write throttled", yAxis = "right" }],
        ["AWS/Kinesis", "ReadProvisionedThroughputExceeded", "StreamName", var.stream_name, { stat = "Sum", label = "read throttled", yAxis = "right" }],
      ]
    },
    {
      title = "API Gateway: requests, errors, latency"
      metrics = [
        ["AWS/ApiGateway", "Count", "ApiName", var.api_name, "Stage", var.api_stage_name, { stat = "Sum", label = "requests" }],
        ["AWS/ApiGateway", "4XXError", "ApiName", var.api_name, "Stage", var.api_stage_name, { stat = "Sum", label = "4xx" }],
        ["AWS/ApiGateway", "5XXError", "ApiName", var.api_name, "Stage", var.api_stage_name, { stat = "Sum", label = "5xx" }],
        ["AWS/ApiGateway", "Latency", "ApiName", var.api_name, "Stage", var.api_stage_name, { stat = "p99", label = "latency p99 (ms)", yAxis = "right" }],
      ]
    },
    {
      title = "Processor metrics (EMF namespace ${var.metrics_namespace})"
      metrics = [
        [{ expression = "SEARCH('Namespace=\"${var.metrics_namespace}\"', 'Sum', 60)", id = "emf", label = "" }],
      ]
    },
    {
      title = "Lambda duration (ms)"
      metrics = flatten([
        for k in local.function_keys : [
          ["AWS/Lambda", "Duration", "FunctionName", var.function_names[k], { stat = "p50", label = "${k} p50" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.function_names[k], { stat = "p99", label = "${k} p99" }],
        ]
      ])
    },
    {
      title = "Lambda errors, throttles, concurrency"
      metrics = flatten([
        for k in local.function_keys : [
          ["AWS/Lambda", "Errors", "FunctionName", var.function_names[k], { stat = "Sum", label = "${k} errors" }],
          ["AWS/Lambda", "Throttles", "FunctionName", var.function_names[k], { stat = "Sum", label = "${k} throttles" }],
          ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", var.function_names[k], { stat = "Maximum", label = "${k} concurrency", yAxis = "right" }],
        ]
      ])
    },
    {
      title = "DynamoDB consumed capacity (units per minute)"
      metrics = concat(
        flatten([
          for k in local.table_keys : [
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_names[k], { stat = "Sum", label = "${k} WCU" }],
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_names[k], { stat = "Sum", label = "${k} RCU", yAxis = "right" }],
          ]
        ]),
        var.events_gsi_name == null ? [] : [["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.events_table_name, "GlobalSecondaryIndexName", var.events_gsi_name, { stat = "Sum", label = "events ${var.events_gsi_name} WCU" }]],
      )
    },
    {
      title = "DynamoDB throttling"
      metrics = concat(
        flatten([
          for k in local.table_keys : [
            ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", var.table_names[k], { stat = "Sum", label = "${k} write throttle events" }],
            ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", var.table_names[k], { stat = "Sum", label = "${k} read throttle events" }],
            ["AWS/DynamoDB", "ThrottledRequests", "TableName", var.table_names[k], "Operation", "BatchWriteItem", { stat = "Sum", label = "${k} throttled BatchWriteItem" }],
          ]
        ]),
        var.events_gsi_name == null ? [] : [["AWS/DynamoDB", "WriteThrottleEvents", "TableName", var.events_table_name, "GlobalSecondaryIndexName", var.events_gsi_name, { stat = "Sum", label = "events ${var.events_gsi_name} write throttle events" }]],
      )
    },
    {
      title = "Firehose: delivery freshness (s)"
      metrics = [
        for name in var.delivery_stream_names :
        ["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", name, { stat = "Maximum", label = name }]
      ]
    },
    {
      title = "Firehose: incoming bytes and throttled records"
      metrics = flatten([
        for name in var.delivery_stream_names : [
          ["AWS/Firehose", "IncomingBytes", "DeliveryStreamName", name, { stat = "Sum", label = "${name} bytes" }],
          ["AWS/Firehose", "ThrottledRecords", "DeliveryStreamName", name, { stat = "Sum", label = "${name} throttled", yAxis = "right" }],
        ]
      ])
    },
    {
      title = "Firehose: active partitions, and objects written under errors/"
      metrics = concat(
        [
          for name in var.delivery_stream_names :
          ["AWS/Firehose", "PartitionCount", "DeliveryStreamName", name, { stat = "Maximum", label = "${name} partitions" }]
        ],
        [["AWS/S3", "PutRequests", "BucketName", var.archive_bucket_name, "FilterId", var.archive_errors_metric_filter_id, { stat = "Sum", label = "errors/ objects", yAxis = "right" }]],
      )
    },
    {
      title = "Failure queues (messages visible)"
      metrics = [
        for k, q in var.queue_names :
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { stat = "Maximum", label = k }]
      ]
    },
  ]

  metric_widgets = [
    for i, w in local.widgets : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = 6 + floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = w.title
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 60
        metrics = w.metrics
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type   = "alarm"
          x      = 0
          y      = 0
          width  = 24
          height = 6
          properties = {
            title  = "Alarms"
            alarms = slice(local.all_alarm_arns, 0, min(100, length(local.all_alarm_arns))) # widget limit
          }
        },
      ],
      local.metric_widgets,
    )
  })
}
