output "function_name" {
  description = "Name of the processor function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the processor function."
  value       = module.function.function_arn
}

output "role_arn" {
  description = "ARN of the processor's execution role."
  value       = module.function.role_arn
}

output "on_failure_queue_name" {
  description = "Name of the on-failure queue of the event source mapping."
  value       = aws_sqs_queue.on_failure.name
}

output "on_failure_queue_arn" {
  description = "ARN of the on-failure queue of the event source mapping."
  value       = aws_sqs_queue.on_failure.arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the Kinesis event source mapping."
  value       = aws_lambda_event_source_mapping.kinesis.uuid
}
