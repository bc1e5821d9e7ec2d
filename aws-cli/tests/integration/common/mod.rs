//! Test helper: the `pipeline-aws` binary pointed at moto and at a stack (the rest of the
//! set-up is in `pipeline-testing`).

use std::process::{Command, Output};

use pipeline_aws::ProcessorConfig;
use pipeline_testing::moto::process_env;
use pipeline_testing::stack::stack_env;

/// `pipeline-aws` with `args`, pointed at moto and at `stack`.
pub fn pipeline_aws(stack: &ProcessorConfig, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeline-aws"))
        .args(args)
        .envs(process_env())
        .envs(stack_env(stack))
        .env_remove("SCHEMAS_DIR")
        .output()
        .unwrap()
}
