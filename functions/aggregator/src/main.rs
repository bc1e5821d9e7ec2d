//! The aggregator Lambda: wiring only. The client is built once at init; each scheduled
//! invocation merges touched windows (see `aggregator::Aggregator`).
//!
//! ```sh
//! cargo lambda build --release --arm64 --output-format zip --bin aggregator  # target/lambda/aggregator/bootstrap.zip
//! scripts/deploy.sh                                                           # builds every function and applies the Terraform
//! ```

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pipeline_aws::logging::init_tracing();
    let aggregator = aggregator::Aggregator::from_env().await?;
    let aggregator = &aggregator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move { aggregator.handle(event).await })).await
}
