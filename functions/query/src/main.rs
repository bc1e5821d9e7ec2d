//! The query Lambda: wiring only. The client is built once at init; each API Gateway
//! request is answered by `query::QueryApi`.
//!
//! ```sh
//! cargo lambda build --release --arm64 --output-format zip --bin query       # target/lambda/query/bootstrap.zip
//! scripts/deploy.sh                                                           # builds every function and applies the Terraform
//! ```

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pipeline_aws::logging::init_tracing();
    let api = query::QueryApi::from_env().await?;
    let api = &api;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move { api.handle(event).await })).await
}
