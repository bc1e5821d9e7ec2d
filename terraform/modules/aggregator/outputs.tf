output "function_name" {
  description = "Name of the aggregator function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the aggregator function."
  value       = module.function.function_arn
}

output "role_arn" {
  description = "ARN of the aggregator's execution role."
  value       = module.function.role_arn
}

output "dlq_name" {
  description = "Name of the aggregator's dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "ARN of the aggregator's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "schedule_rule_name" {
  description = "Name of the EventBridge schedule rule."
  value       = aws_cloudwatch_event_rule.schedule.name
}
