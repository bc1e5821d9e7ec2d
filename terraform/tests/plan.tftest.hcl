# Offline plan of the whole configuration against a mocked AWS provider: no
# credentials, no AWS calls, nothing created. It catches type errors, broken
# references, for_each/count problems and failing variable validations.
#
#   terraform -chdir=terraform init -backend=false
#   terraform -chdir=terraform test -var-file=envs/dev.tfvars
#   terraform -chdir=terraform test -var-file=envs/prod.tfvars

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  # filebase64sha256() needs an existing file; the Lambda zips need not be
  # built for a mocked plan.
  processor_zip_path  = "tests/plan.tftest.hcl"
  aggregator_zip_path = "tests/plan.tftest.hcl"
  query_zip_path      = "tests/plan.tftest.hcl"
}

run "plan" {
  command = plan

  assert {
    condition     = length(output.delivery_stream_names) == var.archive_stream_count
    error_message = "One Firehose delivery stream per archive_stream_count."
  }

  assert {
    condition     = alltrue([for i, n in output.delivery_stream_names : n == "${var.project}-${var.environment}-archive-${i}"])
    error_message = "Delivery streams are named <project>-<environment>-archive-<i>."
  }

  assert {
    condition     = output.events_table_name == "${var.project}-${var.environment}-events"
    error_message = "Events table name."
  }
}

run "rejects_undersized_reserved_concurrency" {
  command = plan

  variables {
    stream_mode                      = "PROVISIONED"
    shard_count                      = 128
    processor_parallelization_factor = 2
    processor_reserved_concurrency   = 100
  }

  expect_failures = [var.processor_reserved_concurrency]
}
