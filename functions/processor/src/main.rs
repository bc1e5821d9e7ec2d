//! The processor Lambda: wiring only. Clients and the schema registry are built once at
//! init; each invocation runs the shared batch flow (see `processor::Processor`).
//!
//! ```sh
//! cargo lambda build --release --arm64 --output-format zip --bin processor   # target/lambda/processor/bootstrap.zip
//! scripts/deploy.sh                                                           # builds every function and applies the Terraform
//! ```

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    pipeline_aws::logging::init_tracing();
    let processor = processor::Processor::from_env().await?;
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move { processor.handle(event).await })).await
}
