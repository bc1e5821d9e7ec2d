# Events table (DESIGN.md section 6):
#   pk     = USER#<user_id>
#   sk     = <timestamp>#<event_id>
#   ttl    = expiry, epoch seconds (EVENT_TTL_DAYS from the record's arrival)
# and, only where the per-type index is on (events_gsi_enabled):
#   gsi1pk = TYPE#<event_type>#<shard>, shard in 0..GSI_WRITE_SHARDS-1
#   gsi1sk = <timestamp>#<event_id>
# The index is off by default: every item written to it is a second write. Where it is
# on, its key is write-sharded: a plain TYPE#<event_type> key would put a whole event type
# on one index partition (about 1,000 WCU/s each). Readers query the N shards and merge.
#
# Capacity: on-demand (PAY_PER_REQUEST), or PROVISIONED with Application Auto Scaling
# target tracking between the min and max below (cheaper for steady loads). Terraform
# leaves the table's capacity to the scaler once created (ignore_changes); the index, where
# on, has fixed capacity at the table's maximum (a scaled index capacity cannot be left to
# the scaler in the provider's model without hiding every other change of the index).

locals {
  tables = {
    events = {
      name                = "${var.name_prefix}-events"
      billing_mode        = var.events_billing_mode
      table_class         = var.events_table_class
      capacity            = var.events_capacity
      max_write_on_demand = var.events_max_write_request_units
    }
    aggregates = {
      name                = "${var.name_prefix}-aggregates"
      billing_mode        = var.aggregates_billing_mode
      table_class         = var.aggregates_table_class
      capacity            = var.aggregates_capacity
      max_write_on_demand = var.aggregates_max_write_request_units
    }
  }

  # One scalable target per provisioned table and dimension.
  scaled = merge({}, [
    for table, t in local.tables : {
      for dimension, d in {
        read  = { min = t.capacity.min_read, max = t.capacity.max_read, metric = "DynamoDBReadCapacityUtilization", scalable = "ReadCapacityUnits" }
        write = { min = t.capacity.min_write, max = t.capacity.max_write, metric = "DynamoDBWriteCapacityUtilization", scalable = "WriteCapacityUnits" }
      } : "${table}-${dimension}" => merge(d, { table = table })
    } if t.billing_mode == "PROVISIONED"
  ]...)
}

resource "aws_dynamodb_table" "events" {
  name                        = local.tables.events.name
  billing_mode                = var.events_billing_mode
  read_capacity               = var.events_billing_mode == "PROVISIONED" ? var.events_capacity.min_read : null
  write_capacity              = var.events_billing_mode == "PROVISIONED" ? var.events_capacity.min_write : null
  table_class                 = var.events_table_class
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  dynamic "attribute" {
    for_each = var.events_gsi_enabled ? ["gsi1pk", "gsi1sk"] : []
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = var.events_gsi_enabled ? [var.events_gsi_name] : []
    content {
      name            = global_secondary_index.value
      hash_key        = "gsi1pk"
      range_key       = "gsi1sk"
      projection_type = var.events_gsi_projection_type
      read_capacity   = var.events_billing_mode == "PROVISIONED" ? var.events_capacity.max_read : null
      write_capacity  = var.events_billing_mode == "PROVISIONED" ? var.events_capacity.max_write : null
    }
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "on_demand_throughput" {
    for_each = var.events_billing_mode == "PAY_PER_REQUEST" && var.events_max_write_request_units != null ? [var.events_max_write_request_units] : []
    content {
      max_write_request_units = on_demand_throughput.value
    }
  }

  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
  }
}

# Aggregates table: partial aggregates written by the processor (keyed by
# window, event type and batch identity) and the rollups of the aggregator.
resource "aws_dynamodb_table" "aggregates" {
  name                        = local.tables.aggregates.name
  billing_mode                = var.aggregates_billing_mode
  read_capacity               = var.aggregates_billing_mode == "PROVISIONED" ? var.aggregates_capacity.min_read : null
  write_capacity              = var.aggregates_billing_mode == "PROVISIONED" ? var.aggregates_capacity.min_write : null
  table_class                 = var.aggregates_table_class
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "on_demand_throughput" {
    for_each = var.aggregates_billing_mode == "PAY_PER_REQUEST" && var.aggregates_max_write_request_units != null ? [var.aggregates_max_write_request_units] : []
    content {
      max_write_request_units = on_demand_throughput.value
    }
  }

  lifecycle {
    ignore_changes = [read_capacity, write_capacity]
  }
}

# Target tracking: the scaler keeps consumed / provisioned near the target,
# between the min and the max.
resource "aws_appautoscaling_target" "tables" {
  for_each = local.scaled

  service_namespace  = "dynamodb"
  resource_id        = "table/${each.value.table == "events" ? aws_dynamodb_table.events.name : aws_dynamodb_table.aggregates.name}"
  scalable_dimension = "dynamodb:table:${each.value.scalable}"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "tables" {
  for_each = local.scaled

  name               = "${local.tables[each.value.table].name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.tables[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.tables[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.tables[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling_target_percent

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
    }
  }
}
