output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_name" {
  description = "Name of the REST API (CloudWatch ApiName dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the deployed stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Invoke URL of the stage; routes are under /v1."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_key_id" {
  description = "ID of the ingest API key."
  value       = aws_api_gateway_api_key.this.id
}

output "api_key_value" {
  description = "Value of the ingest API key (header x-api-key of the POST routes)."
  value       = aws_api_gateway_api_key.this.value
  sensitive   = true
}

output "access_log_group_name" {
  description = "Access log group of the stage."
  value       = aws_cloudwatch_log_group.access.name
}

output "query_read_policy_arn" {
  description = "IAM policy allowing execute-api:Invoke on the GET query routes (AWS_IAM, SigV4)."
  value       = aws_iam_policy.query_read.arn
}

output "execution_log_group_name" {
  description = "Execution log group of the stage."
  value       = aws_cloudwatch_log_group.execution.name
}

output "ingest_resource_ids" {
  description = "Resource IDs of the ingest routes (for aws apigateway test-invoke-method)."
  value = {
    "/v1/events" = aws_api_gateway_resource.events.id
    "/v1/event"  = aws_api_gateway_resource.event.id
  }
}
