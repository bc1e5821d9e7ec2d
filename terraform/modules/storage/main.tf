# Events table (DESIGN.md section 6):
#   pk     = USER#<user_id>
#   sk     = <timestamp>#<event_id>
#   ttl    = expiry, epoch seconds (EVENT_TTL_DAYS)
#   gsi1pk = TYPE#<event_type>#<shard>, shard in 0..GSI_WRITE_SHARDS-1
#   gsi1sk = <timestamp>#<event_id>
# The per-type index is write-sharded: at 100K events/s a plain
# TYPE#<event_type> key would put a whole event type on one index partition
# (about 1,000 WCU/s each). Readers query the N shards and merge by gsi1sk.
resource "aws_dynamodb_table" "events" {
  name                        = "${var.name_prefix}-events"
  billing_mode                = "PAY_PER_REQUEST"
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

  attribute {
    name = "gsi1pk"
    type = "S"
  }

  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = var.events_gsi_name
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = var.events_gsi_projection_type
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "on_demand_throughput" {
    for_each = var.events_max_write_request_units == null ? [] : [var.events_max_write_request_units]
    content {
      max_write_request_units = on_demand_throughput.value
    }
  }
}

# Aggregates table: partial aggregates written by the processor (keyed by
# window, event type and batch identity) and the rollups of the aggregator.
resource "aws_dynamodb_table" "aggregates" {
  name                        = "${var.name_prefix}-aggregates"
  billing_mode                = "PAY_PER_REQUEST"
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
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "on_demand_throughput" {
    for_each = var.aggregates_max_write_request_units == null ? [] : [var.aggregates_max_write_request_units]
    content {
      max_write_request_units = on_demand_throughput.value
    }
  }
}
