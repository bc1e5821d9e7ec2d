//! The query Lambda's handler: the GET API of DESIGN section 5 behind API Gateway (REST,
//! proxy integration; API Gateway checks the caller's SigV4 signature, `AWS_IAM`, so the
//! producers' ingest key cannot read). Routes:
//! - `GET /v1/users/{user_id}/events?from=&to=&limit=&cursor=`, newest first;
//! - `GET /v1/aggregates?event_type=&granularity=&from=&to=&by=`;
//! - `GET /v1/events?event_type=&from=&to=&limit=&cursor=`, one type's events newest first,
//!   where the per-type index is on (`GSI_WRITE_SHARDS` set); 404 with the reason elsewhere.
//!
//! Parameters and bodies are the shared ones of [`pipeline::query`], as in local mode.
//!
//! The central type is [`QueryApi`]: built once per container, it answers each API Gateway
//! proxy request ([`QueryApi::handle`]) with a JSON body, and a 400 or 404 whose message
//! names the parameter and the fix.
//!
//! # Example
//!
//! ```no_run
//! use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
//!
//! # async fn example() -> anyhow::Result<()> {
//! // EVENTS_TABLE and AGGREGATES_TABLE (and GSI_WRITE_SHARDS, SCHEMAS_DIR).
//! let api = query::QueryApi::from_env().await?;
//! let mut request = ApiGatewayProxyRequest::default();
//! request.path = Some("/v1/users/123/events".into());
//! let response = api.respond(&request).await;
//! println!("{} {:?}", response.status_code, response.body);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

use anyhow::Context;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::http::header::{CONTENT_TYPE, HeaderValue};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use pipeline::SchemaRegistry;
use pipeline::query::{AggregatesRequest, PageRequest, TypeEventsRequest, aggregates_body};
use pipeline::rollup::AggregateTable;
use pipeline_aws::events_query::{EventsPage, EventsQueryError, user_events};
use pipeline_aws::type_events::type_events;
use pipeline_aws::{DynamoAggregateTable, QueryConfig};
use serde_json::{Value, json};

/// The query Lambda's state: the DynamoDB client and what it reads, built once per container.
pub struct QueryApi {
    dynamo: aws_sdk_dynamodb::Client,
    events_table: String,
    aggregates: DynamoAggregateTable,
    /// The event types `GET /v1/aggregates` lists when none is asked for.
    event_types: Vec<String>,
    /// Write shards of the per-type index; `None`: the index is off.
    gsi_write_shards: Option<u32>,
}

impl QueryApi {
    /// Reads `EVENTS_TABLE`, `AGGREGATES_TABLE` (and `GSI_WRITE_SHARDS`, `SCHEMAS_DIR`) and
    /// builds the client.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = QueryConfig::from_env().context("query configuration")?;
        let schemas = std::env::var_os("SCHEMAS_DIR").filter(|d| !d.is_empty()).map(std::path::PathBuf::from);
        let registry = SchemaRegistry::load(schemas.as_deref()).context("loading the schemas")?;
        let aws = pipeline_aws::sdk::load_from_env().await;
        Ok(Self::new(aws_sdk_dynamodb::Client::new(&aws), &config, &registry))
    }

    /// The API over `config`'s tables with `dynamo`; `registry` gives the event types.
    pub fn new(dynamo: aws_sdk_dynamodb::Client, config: &QueryConfig, registry: &SchemaRegistry) -> Self {
        Self {
            aggregates: DynamoAggregateTable::new(dynamo.clone(), &config.tables.aggregates_table),
            dynamo,
            events_table: config.tables.events_table.clone(),
            event_types: registry.event_types().into_iter().map(str::to_owned).collect(),
            gsi_write_shards: config.gsi_write_shards,
        }
    }

    /// The Lambda handler: one API Gateway request, one response.
    pub async fn handle(&self, event: LambdaEvent<ApiGatewayProxyRequest>) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
        Ok(self.respond(&event.payload).await)
    }

    /// The response to one request; every failure is a JSON `{"message": ...}`.
    pub async fn respond(&self, request: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
        let params: Vec<(String, String)> =
            request.query_string_parameters.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let path = request.path.as_deref().unwrap_or_default();
        if request.http_method != aws_lambda_events::http::Method::GET {
            return message(405, format!("{} {path} is not served: the query API answers GET only", request.http_method));
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "users", user, "events"] => {
                let user = request.path_parameters.get("user_id").map_or(*user, String::as_str);
                self.user_events(user, &params).await
            }
            ["v1", "aggregates"] => self.aggregates(&params).await,
            ["v1", "events"] => self.type_events(&params).await,
            _ => message(404, format!("no route GET {path}: use /v1/users/{{user_id}}/events, /v1/aggregates or /v1/events")),
        }
    }

    async fn type_events(&self, params: &[(String, String)]) -> ApiGatewayProxyResponse {
        let Some(shards) = self.gsi_write_shards else {
            return message(
                404,
                "GET /v1/events is served where the per-type index is on: set events_gsi_enabled = true in the stack (terraform/variables.tf)",
            );
        };
        let types: Vec<&str> = self.event_types.iter().map(String::as_str).collect();
        let request = match TypeEventsRequest::parse(params, &types) {
            Ok(r) => r,
            Err(e) => return message(400, e.0),
        };
        page_response(type_events(&self.dynamo, &self.events_table, shards, &request).await)
    }

    async fn user_events(&self, user: &str, params: &[(String, String)]) -> ApiGatewayProxyResponse {
        let page = match PageRequest::parse(params) {
            Ok(p) => p,
            Err(e) => return message(400, e.0),
        };
        page_response(user_events(&self.dynamo, &self.events_table, user, &page).await)
    }

    async fn aggregates(&self, params: &[(String, String)]) -> ApiGatewayProxyResponse {
        let request = match AggregatesRequest::parse(params, Utc::now()) {
            Ok(r) => r,
            Err(e) => return message(400, e.0),
        };
        let types = request.event_type.clone().map_or_else(|| self.event_types.clone(), |t| vec![t]);
        let mut rows = Vec::new();
        for t in &types {
            match self.aggregates.rows(request.granularity, &request.series(t), request.from, request.until).await {
                Ok(found) => rows.extend(found),
                Err(e) => return failed(&e),
            }
        }
        respond(200, &aggregates_body(&mut rows))
    }
}

/// `{"events": [...], "next_cursor": ...}`, or the error.
fn page_response(page: Result<EventsPage, EventsQueryError>) -> ApiGatewayProxyResponse {
    match page {
        Ok(page) => respond(200, &json!({"events": page.events, "next_cursor": page.next_cursor})),
        Err(EventsQueryError::BadRequest(e)) => message(400, e.0),
        Err(e) => failed(&e),
    }
}

fn respond(status: i64, body: &Value) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}

fn message(status: i64, text: impl Into<String>) -> ApiGatewayProxyResponse {
    respond(status, &json!({"message": text.into()}))
}

/// A store failure: logged in full, answered as a 503 the client may retry.
fn failed(e: &dyn std::error::Error) -> ApiGatewayProxyResponse {
    tracing::error!(error = %e, "query failed");
    message(503, format!("the query could not be answered now ({e}); try again"))
}

