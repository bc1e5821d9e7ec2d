data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  api_name  = "${var.name_prefix}-api"

  kinesis_uri = "arn:${local.partition}:apigateway:${local.region}:kinesis:action"

  put_records_request  = templatefile("${path.module}/templates/put_records_request.vtl", { stream_name = var.stream_name })
  put_record_request   = templatefile("${path.module}/templates/put_record_request.vtl", { stream_name = var.stream_name })
  put_records_response = file("${path.module}/templates/put_records_response.vtl")
  put_record_response  = file("${path.module}/templates/put_record_response.vtl")
  kinesis_client_error = file("${path.module}/templates/kinesis_client_error.vtl")
  kinesis_server_error = file("${path.module}/templates/kinesis_server_error.vtl")

  # POST routes proxied to Kinesis (AWS service integrations, no Lambda).
  ingest_routes = {
    events = {
      resource_id      = aws_api_gateway_resource.events.id
      action           = "PutRecords"
      model            = aws_api_gateway_model.event_batch.name
      request_template = local.put_records_request
      success_template = local.put_records_response
    }
    event = {
      resource_id      = aws_api_gateway_resource.event.id
      action           = "PutRecord"
      model            = aws_api_gateway_model.event.name
      request_template = local.put_record_request
      success_template = local.put_record_response
    }
  }

  # GET routes proxied to the query Lambda; GET /v1/events only where the
  # per-type index is on (it reads the index).
  query_routes = merge({
    user_events = {
      resource_id = aws_api_gateway_resource.user_events.id
      parameters = {
        "method.request.path.user_id"       = true
        "method.request.querystring.from"   = false
        "method.request.querystring.to"     = false
        "method.request.querystring.limit"  = false
        "method.request.querystring.cursor" = false
      }
    }
    aggregates = {
      resource_id = aws_api_gateway_resource.aggregates.id
      parameters = {
        "method.request.querystring.event_type"  = false
        "method.request.querystring.granularity" = false
        "method.request.querystring.from"        = false
        "method.request.querystring.to"          = false
      }
    }
    }, var.type_events_route ? {
    type_events = {
      resource_id = aws_api_gateway_resource.events.id
      parameters = {
        "method.request.querystring.event_type" = true
        "method.request.querystring.from"       = false
        "method.request.querystring.to"         = false
        "method.request.querystring.limit"      = false
        "method.request.querystring.cursor"     = false
      }
    }
  } : {})

  ingest_method_statuses = ["200", "400", "429", "503"]

  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    sourceIp           = "$context.identity.sourceIp"
    apiKeyId           = "$context.identity.apiKeyId"
    callerArn          = "$context.identity.userArn"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    status             = "$context.status"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    errorMessage       = "$context.error.message"
    validationError    = "$context.error.validationErrorString"
    xrayTraceId        = "$context.xrayTraceId"
  })
}

# ---------------------------------------------------------------------------
# REST API, models, validators
# ---------------------------------------------------------------------------

resource "aws_api_gateway_rest_api" "this" {
  name                     = local.api_name
  description              = "Event pipeline: ingest (Kinesis) and query API"
  api_key_source           = "HEADER"
  minimum_compression_size = var.minimum_compression_size == null ? "-1" : tostring(var.minimum_compression_size)

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Shape checks only (DESIGN.md section 4): schemas are applied downstream and
# failures become bad rows. API Gateway models are JSON Schema draft 4.
resource "aws_api_gateway_model" "event_batch" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "EventBatch"
  description  = "A JSON array of 1 to 500 event objects"
  content_type = "application/json"

  schema = jsonencode({
    "$schema" = "http://json-schema.org/draft-04/schema#"
    title     = "EventBatch"
    type      = "array"
    minItems  = 1
    maxItems  = 500
    items     = { type = "object" }
  })
}

resource "aws_api_gateway_model" "event" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "Event"
  description  = "One event object"
  content_type = "application/json"

  schema = jsonencode({
    "$schema" = "http://json-schema.org/draft-04/schema#"
    title     = "Event"
    type      = "object"
  })
}

resource "aws_api_gateway_request_validator" "body" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "body"
  validate_request_body       = true
  validate_request_parameters = true
}

resource "aws_api_gateway_request_validator" "parameters" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "parameters"
  validate_request_body       = false
  validate_request_parameters = true
}

# ---------------------------------------------------------------------------
# Resources: /v1/events, /v1/event, /v1/users/{user_id}/events, /v1/aggregates
# ---------------------------------------------------------------------------

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "events" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "events"
}

resource "aws_api_gateway_resource" "event" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "event"
}

resource "aws_api_gateway_resource" "users" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "users"
}

resource "aws_api_gateway_resource" "user" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.users.id
  path_part   = "{user_id}"
}

resource "aws_api_gateway_resource" "user_events" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.user.id
  path_part   = "events"
}

resource "aws_api_gateway_resource" "aggregates" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "aggregates"
}

# ---------------------------------------------------------------------------
# Ingest: POST -> Kinesis PutRecords / PutRecord
# ---------------------------------------------------------------------------

# The trust policy AWS documents for API Gateway service roles: the service
# principal and no condition. API Gateway does not send aws:SourceAccount or
# aws:SourceArn when it assumes an integration's credentials role, so either
# condition makes every call fail with "API Gateway does not have permission
# to assume the provided role" (a 500 to producers).
data "aws_iam_policy_document" "api_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "kinesis" {
  name               = "${local.api_name}-kinesis"
  assume_role_policy = data.aws_iam_policy_document.api_assume.json
}

data "aws_iam_policy_document" "kinesis" {
  statement {
    sid       = "PutRecords"
    effect    = "Allow"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.stream_arn]
  }

  # Producers of a stream encrypted with a customer-managed key need a data key.
  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "kinesis" {
  name   = "put-records"
  role   = aws_iam_role.kinesis.id
  policy = data.aws_iam_policy_document.kinesis.json
}

resource "aws_api_gateway_method" "ingest" {
  for_each = local.ingest_routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.resource_id
  http_method          = "POST"
  authorization        = "NONE"
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.body.id
  request_models       = { "application/json" = each.value.model }
}

resource "aws_api_gateway_integration" "ingest" {
  for_each = local.ingest_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.ingest[each.key].http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "${local.kinesis_uri}/${each.value.action}"
  credentials             = aws_iam_role.kinesis.arn
  passthrough_behavior    = "NEVER"

  request_parameters = {
    "integration.request.header.Content-Type" = "'application/x-amz-json-1.1'"
  }

  request_templates = {
    "application/json" = each.value.request_template
  }
}

resource "aws_api_gateway_method_response" "ingest" {
  for_each = {
    for pair in setproduct(keys(local.ingest_routes), local.ingest_method_statuses) :
    "${pair[0]}-${pair[1]}" => { route = pair[0], status = pair[1] }
  }

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = local.ingest_routes[each.value.route].resource_id
  http_method = aws_api_gateway_method.ingest[each.value.route].http_method
  status_code = each.value.status

  response_parameters = each.value.status == "200" ? {} : {
    "method.response.header.Retry-After" = false
  }
}

resource "aws_api_gateway_integration_response" "ingest_ok" {
  for_each = local.ingest_routes

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = aws_api_gateway_method.ingest[each.key].http_method
  status_code = aws_api_gateway_method_response.ingest["${each.key}-200"].status_code

  response_templates = {
    "application/json" = each.value.success_template
  }

  depends_on = [aws_api_gateway_integration.ingest]
}

# Kinesis 4xx: 400 {"message"}. Kinesis answers throttling with a 400 too, so
# the template tells them apart by the error type: throttling becomes 429 with
# Retry-After: 1; InvalidArgument, AccessDenied and the like stay 400 without
# it, since retrying them cannot succeed.
resource "aws_api_gateway_integration_response" "ingest_client_error" {
  for_each = local.ingest_routes

  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = each.value.resource_id
  http_method       = aws_api_gateway_method.ingest[each.key].http_method
  status_code       = aws_api_gateway_method_response.ingest["${each.key}-400"].status_code
  selection_pattern = "4\\d{2}"

  response_templates = {
    "application/json" = local.kinesis_client_error
  }

  depends_on = [aws_api_gateway_integration.ingest, aws_api_gateway_method_response.ingest]
}

# Kinesis 5xx: 503 with Retry-After; nothing was acknowledged.
resource "aws_api_gateway_integration_response" "ingest_server_error" {
  for_each = local.ingest_routes

  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = each.value.resource_id
  http_method       = aws_api_gateway_method.ingest[each.key].http_method
  status_code       = aws_api_gateway_method_response.ingest["${each.key}-503"].status_code
  selection_pattern = "5\\d{2}"

  response_parameters = {
    "method.response.header.Retry-After" = "'1'"
  }

  response_templates = {
    "application/json" = local.kinesis_server_error
  }

  depends_on = [aws_api_gateway_integration.ingest, aws_api_gateway_method_response.ingest]
}

# ---------------------------------------------------------------------------
# Query: GET -> query Lambda (AWS_PROXY)
# ---------------------------------------------------------------------------

# The query routes read every user's events: they are the operator's, not the
# producers'. A usage plan grants a key the whole stage, so a second API key
# could not keep the ingest key (shipped inside apps) out of them; instead
# they take AWS_IAM (SigV4) authorisation and no API key: callers sign with
# IAM credentials allowed execute-api:Invoke on them (aws_iam_policy.query_read).
resource "aws_api_gateway_method" "query" {
  for_each = local.query_routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.resource_id
  http_method          = "GET"
  authorization        = "AWS_IAM"
  api_key_required     = false
  request_validator_id = aws_api_gateway_request_validator.parameters.id
  request_parameters   = each.value.parameters
}

resource "aws_api_gateway_integration" "query" {
  for_each = local.query_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.query[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.query_invoke_arn
}

# Attach to the roles or users that may read (operators, dashboards, tools).
data "aws_iam_policy_document" "query_read" {
  statement {
    sid       = "InvokeQueryRoutes"
    effect    = "Allow"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/GET/v1/*"]
  }
}

resource "aws_iam_policy" "query_read" {
  name        = "${local.api_name}-query-read"
  description = "Call the GET query routes of ${local.api_name} (SigV4, AWS_IAM authorisation)"
  policy      = data.aws_iam_policy_document.query_read.json
}

resource "aws_lambda_permission" "query" {
  statement_id  = "AllowApiGatewayQuery"
  action        = "lambda:InvokeFunction"
  function_name = var.query_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/GET/v1/*"
}

# ---------------------------------------------------------------------------
# Gateway responses: Retry-After on API Gateway throttling
# ---------------------------------------------------------------------------

resource "aws_api_gateway_gateway_response" "throttled" {
  for_each = toset(["THROTTLED", "QUOTA_EXCEEDED"])

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.value
  status_code   = "429"

  response_parameters = {
    "gatewayresponse.header.Retry-After" = "'1'"
  }

  response_templates = {
    "application/json" = "{\"message\": $context.error.messageString}"
  }
}

# ---------------------------------------------------------------------------
# Deployment, stage, logging
# ---------------------------------------------------------------------------

# A stage serves the deployment it points at: any change to the API's
# definition must make a new deployment, or it applies but is never served.
# The trigger hashes every resource that defines the API as a whole (all its
# arguments: credentials, request parameters, passthrough behaviour,
# validators, selection patterns, response parameters, templates, ...), so no
# argument can be forgotten; cli/tests/integration/terraform/ checks that every such
# resource of this module is in the list.
resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_rest_api.this.api_key_source,
      aws_api_gateway_rest_api.this.minimum_compression_size,
      aws_api_gateway_model.event_batch,
      aws_api_gateway_model.event,
      aws_api_gateway_request_validator.body,
      aws_api_gateway_request_validator.parameters,
      aws_api_gateway_resource.v1,
      aws_api_gateway_resource.events,
      aws_api_gateway_resource.event,
      aws_api_gateway_resource.users,
      aws_api_gateway_resource.user,
      aws_api_gateway_resource.user_events,
      aws_api_gateway_resource.aggregates,
      aws_api_gateway_method.ingest,
      aws_api_gateway_method.query,
      aws_api_gateway_integration.ingest,
      aws_api_gateway_integration.query,
      aws_api_gateway_method_response.ingest,
      aws_api_gateway_integration_response.ingest_ok,
      aws_api_gateway_integration_response.ingest_client_error,
      aws_api_gateway_integration_response.ingest_server_error,
      aws_api_gateway_gateway_response.throttled,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${local.api_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Response caching is wrong for this API: ingest is write-only and query results must be fresh
  #checkov:skip=CKV2_AWS_51:Producers are external clients authenticated by API key over TLS; mutual TLS needs a custom domain and client certificates we do not distribute
  #checkov:skip=CKV2_AWS_77:No WAF web ACL is attached by default (see CKV2_AWS_29); when waf_web_acl_arn is set, that ACL's rule groups (including the Log4j AMR) are managed where the ACL is defined
  #checkov:skip=CKV2_AWS_29:WAF is optional (variable waf_web_acl_arn): AWS managed rule groups block request bodies over 8 KB, and ingest bodies are up to 5 MiB; protection comes from API keys, usage-plan throttling and request validation
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.xray_tracing_enabled

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  depends_on = [aws_api_gateway_account.this]
}

# API Gateway writes execution logs to this group; made here (before logging
# is switched on) so that it is encrypted and expires, instead of being
# created by API Gateway unencrypted and kept forever.
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching disabled on purpose: ingest is write-only and query results must be fresh
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false
    caching_enabled        = false
    cache_data_encrypted   = true
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }

  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == "" ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

# Execution logging needs a CloudWatch Logs role in the regional API Gateway
# account settings (shared by every API of the account and region).
data "aws_iam_policy_document" "account_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "account_logging" {
  count = var.manage_account_logging_role ? 1 : 0

  name               = "${local.api_name}-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.account_assume.json
}

resource "aws_iam_role_policy_attachment" "account_logging" {
  count = var.manage_account_logging_role ? 1 : 0

  role       = aws_iam_role.account_logging[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.account_logging[0].arn

  depends_on = [aws_iam_role_policy_attachment.account_logging]
}

# ---------------------------------------------------------------------------
# API key and usage plan
# ---------------------------------------------------------------------------

# The ingest key: producers send it (header x-api-key) to the POST routes only.
resource "aws_api_gateway_api_key" "this" {
  name        = "${local.api_name}-default"
  description = "Ingest key of ${local.api_name}: POST /v1/events and /v1/event only"
  enabled     = true
}

resource "aws_api_gateway_usage_plan" "this" {
  name        = "${local.api_name}-default"
  description = "Throttling of the ingest key of ${local.api_name}"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.throttle_rate_limit
    burst_limit = var.throttle_burst_limit
  }

  dynamic "quota_settings" {
    for_each = var.quota_limit_per_day == null ? [] : [var.quota_limit_per_day]
    content {
      limit  = quota_settings.value
      period = "DAY"
    }
  }
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
