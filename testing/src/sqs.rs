//! SQS queues on moto_server (the replay's dead-letter queue).

use aws_sdk_sqs::types::QueueAttributeName;

/// Creates queue `<name>-<pid>`; its URL.
pub async fn create_queue(aws: &aws_config::SdkConfig, name: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let out = sqs.create_queue().queue_name(format!("{name}-{}", std::process::id())).send().await.expect("create queue");
    out.queue_url().unwrap().to_owned()
}

/// Messages in the queue, visible or not.
pub async fn queue_depth(aws: &aws_config::SdkConfig, queue: &str) -> u64 {
    let out = aws_sdk_sqs::Client::new(aws)
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    out.attributes().unwrap().values().map(|v| v.parse::<u64>().unwrap()).sum()
}
