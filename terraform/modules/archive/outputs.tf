output "bucket_name" {
  description = "Name of the archive bucket (events/, errors/ and bad rows)."
  value       = aws_s3_bucket.archive.id
}

output "bucket_arn" {
  description = "ARN of the archive bucket."
  value       = aws_s3_bucket.archive.arn
}

output "delivery_stream_names" {
  description = "Names of the Firehose delivery streams, in index order."
  value       = aws_kinesis_firehose_delivery_stream.archive[*].name
}

output "delivery_stream_arns" {
  description = "ARNs of the Firehose delivery streams, in index order."
  value       = aws_kinesis_firehose_delivery_stream.archive[*].arn
}

output "firehose_log_group_name" {
  description = "Log group receiving Firehose delivery errors."
  value       = aws_cloudwatch_log_group.firehose.name
}

output "errors_metric_filter_id" {
  description = "FilterId of the S3 request metrics of the errors/ prefix (AWS/S3 PutRequests)."
  value       = aws_s3_bucket_metric.errors.name
}
