//! moto_server: the SDK config for it, and tables with the stack's key schema (`pk`, `sk`,
//! both strings).

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};

/// The emulator's endpoint; `scripts/test.sh` starts moto_server and sets it.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: these tests need moto_server (scripts/test.sh starts it), \
         e.g. moto_server -p 5055 & AWS_ENDPOINT_URL=http://127.0.0.1:5055",
    )
}

/// The environment of a process (a binary under test) that talks to moto: its endpoint,
/// us-east-1 and dummy credentials.
pub fn process_env() -> [(&'static str, String); 4] {
    [
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]
}

/// Dummy credentials, us-east-1, moto's endpoint.
pub async fn sdk_config() -> aws_config::SdkConfig {
    pipeline_aws::sdk::loader()
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
}

/// A request for table `name` (on-demand, keys `pk` and `sk`).
fn table(dynamo: &aws_sdk_dynamodb::Client, name: &str) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
}

/// Creates table `name` (on-demand, keys `pk` and `sk`).
pub async fn create_table(dynamo: &aws_sdk_dynamodb::Client, name: &str) {
    table(dynamo, name).send().await.expect("create table");
}

/// Creates an events table with the per-type index `gsi1` (`gsi1pk`, `gsi1sk`; keys only),
/// as terraform/modules/storage does where `events_gsi_enabled` is on.
pub async fn create_table_with_index(dynamo: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let index = GlobalSecondaryIndex::builder()
        .index_name("gsi1")
        .key_schema(key("gsi1pk", KeyType::Hash))
        .key_schema(key("gsi1sk", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .unwrap();
    table(dynamo, name)
        .attribute_definitions(attribute("gsi1pk"))
        .attribute_definitions(attribute("gsi1sk"))
        .global_secondary_indexes(index)
        .send()
        .await
        .expect("create table with index");
}
