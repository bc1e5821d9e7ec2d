data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  # S3 bucket names are at most 63 characters. The descriptive default
  # (<prefix>-archive-<account>-<region>) reaches 71 with a 24-character
  # project, a 10-character environment and a 14-character region: past 63 the
  # account and region are replaced by 12 hex digits of their hash, which
  # keeps the name unique to the account and region.
  descriptive_bucket_name = "${var.name_prefix}-archive-${local.account_id}-${local.region}"
  hashed_bucket_name      = "${var.name_prefix}-archive-${substr(sha1("${local.account_id}-${local.region}"), 0, 12)}"
  default_bucket_name     = length(local.descriptive_bucket_name) <= 63 ? local.descriptive_bucket_name : local.hashed_bucket_name
  bucket_name             = var.bucket_name != "" ? var.bucket_name : local.default_bucket_name

  stream_names   = [for i in range(var.stream_count) : "${var.name_prefix}-archive-${i}"]
  log_group_name = "/aws/kinesisfirehose/${var.name_prefix}-archive"

  errors_prefix      = "errors/"
  errors_metric_name = "errors"

  lifecycle_prefixes = {
    events   = var.events_prefix
    bad-rows = var.bad_rows_prefix
    errors   = local.errors_prefix
  }
}

# ---------------------------------------------------------------------------
# Bucket: events/ (Firehose), errors/ (Firehose failures), bad-rows/ (processor)
# ---------------------------------------------------------------------------

resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per organisation (second region, second bill); the archive is versioned and KMS-encrypted, add aws_s3_bucket_replication_configuration where required
  #checkov:skip=CKV2_AWS_62:No consumer of object-created events: analytics engines read the partitioned prefixes on their own schedule
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  lifecycle {
    precondition {
      condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", local.bucket_name))
      error_message = "The archive bucket name must be 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # S3 Bucket Keys cut KMS requests (and their cost) by orders of magnitude
    # at the object rates of the archive and the bad rows.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  dynamic "rule" {
    for_each = local.lifecycle_prefixes
    content {
      id     = rule.key
      status = "Enabled"

      filter {
        prefix = rule.value
      }

      transition {
        days          = var.transition_ia_days
        storage_class = "STANDARD_IA"
      }

      transition {
        days          = var.transition_glacier_days
        storage_class = "GLACIER"
      }

      dynamic "expiration" {
        for_each = var.expiration_days > 0 ? [var.expiration_days] : []
        content {
          days = expiration.value
        }
      }

      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_expiration_days
      }
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}

# Request metrics of the errors/ prefix: every object Firehose writes there is
# events that missed the partitioned layout (activePartitionExceeded past 500
# active partitions per stream, or a record without event_type/_pipeline.dt/hr).
# The observability module alarms on its PutRequests.
resource "aws_s3_bucket_metric" "errors" {
  bucket = aws_s3_bucket.archive.id
  name   = local.errors_metric_name

  filter {
    prefix = local.errors_prefix
  }
}

resource "aws_s3_bucket_logging" "archive" {
  count = var.access_log_bucket == "" ? 0 : 1

  bucket        = aws_s3_bucket.archive.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${local.bucket_name}/"
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.archive]
}

# ---------------------------------------------------------------------------
# Firehose: N Direct PUT streams, deaggregation + dynamic partitioning
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "firehose" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  count = var.stream_count

  name           = "${local.stream_names[count.index]}-s3"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${var.name_prefix}-firehose"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose" {
  statement {
    sid    = "Bucket"
    effect = "Allow"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [aws_s3_bucket.archive.arn]
  }

  statement {
    sid    = "Objects"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = [
      "${aws_s3_bucket.archive.arn}/${var.events_prefix}*",
      "${aws_s3_bucket.archive.arn}/${local.errors_prefix}*",
    ]
  }

  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "Logs"
    effect    = "Allow"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "archive-delivery"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_kinesis_firehose_delivery_stream" "archive" {
  count = var.stream_count

  name        = local.stream_names[count.index]
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = var.kms_key_arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.archive.arn
    kms_key_arn         = var.kms_key_arn
    prefix              = "${var.events_prefix}event_type=!{partitionKeyFromQuery:event_type}/dt=!{partitionKeyFromQuery:dt}/hr=!{partitionKeyFromQuery:hr}/"
    error_output_prefix = "${local.errors_prefix}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    buffering_size      = var.buffering_size_mb
    buffering_interval  = var.buffering_interval_seconds
    compression_format  = "GZIP"
    file_extension      = ".jsonl.gz"

    dynamic_partitioning_configuration {
      enabled        = true
      retry_duration = 300
    }

    processing_configuration {
      enabled = true

      # A Firehose record carries up to 500 newline-delimited enriched events
      # (the deaggregation cap); split them back into single events.
      processors {
        type = "RecordDeAggregation"

        parameters {
          parameter_name  = "SubRecordType"
          parameter_value = "JSON"
        }
      }

      # Partition keys from the enriched event (DESIGN.md section 3).
      processors {
        type = "MetadataExtraction"

        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }

        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = "{event_type: .event_type, dt: ._pipeline.dt, hr: ._pipeline.hr}"
        }
      }

      # Put the newline back after every event: objects stay newline-delimited JSON.
      processors {
        type = "AppendDelimiterToRecord"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose[count.index].name
    }
  }

  depends_on = [aws_iam_role_policy.firehose]
}
