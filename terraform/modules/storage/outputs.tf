output "events_table_name" {
  description = "Name of the events table."
  value       = aws_dynamodb_table.events.name
}

output "events_table_arn" {
  description = "ARN of the events table."
  value       = aws_dynamodb_table.events.arn
}

output "events_gsi_name" {
  description = "Name of the write-sharded per-type index on the events table."
  value       = var.events_gsi_name
}

output "aggregates_table_name" {
  description = "Name of the aggregates table."
  value       = aws_dynamodb_table.aggregates.name
}

output "aggregates_table_arn" {
  description = "ARN of the aggregates table."
  value       = aws_dynamodb_table.aggregates.arn
}

output "events_gsi_enabled" {
  description = "Whether the events table has the per-type index."
  value       = var.events_gsi_enabled
}
