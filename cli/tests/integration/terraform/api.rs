//! (g) The REST API: who may call which route, the templates each integration renders (the
//! ones terraform/tests/templates renders and runs against Kinesis), Retry-After only where
//! a retry can succeed, a redeployment on every change, and its log groups.

use std::collections::BTreeSet;

use hcl::{Block, Expression};

use super::stack::*;

fn api() -> Module {
    Module::load(&terraform().join("modules/api"))
}

/// `resource_id = aws_api_gateway_resource.<name>.id` → the route's path, e.g. `/v1/users/{user_id}/events`.
fn route_path(module: &Module, resource_id: &Expression) -> String {
    let Some(path) = reference(resource_id) else { panic!("resource_id {resource_id:?}") };
    let [kind, name, id] = path.as_slice() else { panic!("resource_id {path:?}") };
    assert_eq!((kind.as_str(), id.as_str()), ("aws_api_gateway_resource", "id"));
    let mut parts = Vec::new();
    let mut at = name.clone();
    loop {
        let block = module.block("resource", &["aws_api_gateway_resource", &at]);
        parts.push(text(attr(block, "path_part")).unwrap().to_owned());
        match reference(attr(block, "parent_id")).as_deref() {
            Some([_, parent, id]) if id == "id" => at = parent.clone(),
            Some([_, _, root]) if root == "root_resource_id" => break,
            other => panic!("parent_id {other:?}"),
        }
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

/// The objects an expression may be: itself, the arguments of `merge(...)`, both branches
/// of `? :` (a route under a condition counts).
fn objects(expr: &Expression) -> Vec<&hcl::Object<hcl::ObjectKey, Expression>> {
    match expr {
        Expression::Object(object) => vec![object],
        Expression::FuncCall(call) if call.name.name.as_str() == "merge" => call.args.iter().flat_map(objects).collect(),
        Expression::Conditional(cond) => objects(&cond.true_expr).into_iter().chain(objects(&cond.false_expr)).collect(),
        Expression::Parenthesis(inner) => objects(inner),
        other => panic!("not a map of routes: {other:?}"),
    }
}

/// The routes of a `local.<name>` map: (route key, path, fields).
fn routes<'a>(module: &'a Module, local: &str) -> Vec<(String, String, &'a hcl::Object<hcl::ObjectKey, Expression>)> {
    objects(module.local(local))
        .into_iter()
        .flat_map(|map| map.iter())
        .map(|(key, value)| {
            let Expression::Object(fields) = value else { panic!("{key:?}") };
            let resource_id = fields.iter().find(|(k, _)| key_name(k) == Some("resource_id")).unwrap().1;
            (key_name(key).unwrap().to_owned(), route_path(module, resource_id), fields)
        })
        .collect()
}

fn field<'a>(fields: &'a hcl::Object<hcl::ObjectKey, Expression>, name: &str) -> &'a Expression {
    fields.iter().find(|(k, _)| key_name(k) == Some(name)).map(|(_, v)| v).unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn ingest_routes_take_the_api_key_and_query_routes_take_sigv4() {
    let api = api();
    let ingest = api.block("resource", &["aws_api_gateway_method", "ingest"]);
    assert!(is_reference(attr(ingest, "for_each"), "local.ingest_routes"));
    assert_eq!(text(attr(ingest, "http_method")), Some("POST"));
    assert_eq!(text(attr(ingest, "authorization")), Some("NONE"), "producers authenticate with the API key");
    assert_eq!(attr(ingest, "api_key_required"), &Expression::Bool(true));
    let ingest_paths: BTreeSet<String> = routes(&api, "ingest_routes").into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(ingest_paths, BTreeSet::from(["/v1/event".to_owned(), "/v1/events".to_owned()]), "DESIGN section 4");

    // DESIGN section 4: every other /v1 route is the operator's; a usage plan grants a key the
    // whole stage, so the ingest key is kept out by authorisation, not by a second key.
    let query = api.block("resource", &["aws_api_gateway_method", "query"]);
    assert!(is_reference(attr(query, "for_each"), "local.query_routes"));
    assert_eq!(text(attr(query, "http_method")), Some("GET"));
    assert_eq!(text(attr(query, "authorization")), Some("AWS_IAM"), "query routes are signed (SigV4)");
    assert_eq!(attr(query, "api_key_required"), &Expression::Bool(false), "the ingest key must not open them");
    let query_paths: Vec<String> = routes(&api, "query_routes").into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(query_paths, ["/v1/users/{user_id}/events", "/v1/aggregates", "/v1/events"]);
    // GET /v1/events reads the per-type index: only where it is on.
    let Expression::FuncCall(merge) = api.local("query_routes") else { panic!("query_routes = merge(...)") };
    let Expression::Conditional(cond) = &merge.args[1] else { panic!("the type route is conditional") };
    assert!(is_reference(&cond.cond_expr, "var.type_events_route"));
    let root = Module::load(&terraform());
    assert!(is_reference(attr(root.block("module", &["api"]), "type_events_route"), "var.events_gsi_enabled"));

    // Every method of the API is one of these two kinds.
    let methods: Vec<&str> =
        api.blocks("resource").filter(|b| b.labels()[0].as_str() == "aws_api_gateway_method").map(|b| b.labels()[1].as_str()).collect();
    assert_eq!(methods, ["ingest", "query"], "a new method must be checked here for its authorisation");

    // The query Lambda routes each of them (its match arms: ["v1", "users", user, "events"]).
    let router = std::fs::read_to_string(repo().join("functions/query/src/lib.rs")).unwrap();
    for path in &query_paths {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|s| if s.starts_with('{') { "[a-z_]+".to_owned() } else { regex::escape(&format!("{s:?}")) })
            .collect();
        let arm = regex::Regex::new(&format!(r"\[{}\]", segments.join(r",\s*"))).unwrap();
        assert!(arm.is_match(&router), "functions/query does not route GET {path} ({arm})");
    }

    // Readers get a policy to attach: execute-api:Invoke on the GET routes of the stage only.
    let policy = api.block("data", &["aws_iam_policy_document", "query_read"]);
    let statement = policy.body().blocks().find(|b| b.identifier() == "statement").unwrap();
    let Expression::Array(resources) = attr(statement, "resources") else { panic!("resources") };
    assert_eq!(resources.len(), 1);
    let resource = text(&resources[0]).unwrap();
    assert!(resource.ends_with("/${var.stage_name}/GET/v1/*"), "{resource}");

    // The usage plan holds the one (ingest) key.
    let plan_key = api.block("resource", &["aws_api_gateway_usage_plan_key", "this"]);
    assert!(is_reference(attr(plan_key, "key_id"), "aws_api_gateway_api_key.this.id"));
}

#[test]
fn each_ingest_integration_renders_the_templates_the_template_tests_run() {
    let api = api();
    for (local, file) in [
        ("put_records_request", "put_records_request.vtl"),
        ("put_record_request", "put_record_request.vtl"),
        ("put_records_response", "put_records_response.vtl"),
        ("put_record_response", "put_record_response.vtl"),
        ("kinesis_client_error", "kinesis_client_error.vtl"),
        ("kinesis_server_error", "kinesis_server_error.vtl"),
    ] {
        let Expression::FuncCall(call) = api.local(local) else { panic!("local.{local} reads a file") };
        let function = call.name.name.as_str();
        assert!(function == "templatefile" || function == "file", "local.{local}: {function}");
        let path = text(&call.args[0]).unwrap();
        assert_eq!(path, format!("${{path.module}}/templates/{file}"), "local.{local}");
        if file.ends_with("_request.vtl") {
            assert_eq!(function, "templatefile", "{file} is filled in by templatefile (the tests render it so)");
            let Expression::Object(vars) = &call.args[1] else { panic!("{file}'s variables") };
            let names: Vec<_> = vars.keys().filter_map(key_name).collect();
            assert_eq!(names, ["stream_name"], "{file}");
        }
    }
    let expected = [("events", "PutRecords", "put_records"), ("event", "PutRecord", "put_record")];
    for (key, path, fields) in routes(&api, "ingest_routes") {
        let (_, action, stem) = expected.iter().find(|(k, _, _)| *k == key).unwrap_or_else(|| panic!("route {key} ({path})"));
        assert_eq!(text(field(fields, "action")), Some(*action), "{path}");
        assert!(is_reference(field(fields, "request_template"), &format!("local.{stem}_request")), "{path}");
        assert!(is_reference(field(fields, "success_template"), &format!("local.{stem}_response")), "{path}");
    }
    let integration = api.block("resource", &["aws_api_gateway_integration", "ingest"]);
    assert_eq!(text(attr(integration, "passthrough_behavior")), Some("NEVER"), "only application/json is mapped");

    let response = |name: &str| api.block("resource", &["aws_api_gateway_integration_response", name]);
    let template_of = |block: &Block| {
        let Expression::Object(templates) = attr(block, "response_templates") else { panic!("response_templates") };
        reference(templates.values().next().unwrap()).unwrap().join(".")
    };
    assert_eq!(template_of(response("ingest_ok")), "each.value.success_template");
    assert!(response("ingest_ok").body().attributes().all(|a| a.key() != "selection_pattern"), "200 is the default response");
    assert_eq!(text(attr(response("ingest_client_error"), "selection_pattern")), Some("4\\d{2}"));
    assert_eq!(template_of(response("ingest_client_error")), "local.kinesis_client_error");
    assert_eq!(text(attr(response("ingest_server_error"), "selection_pattern")), Some("5\\d{2}"));
    assert_eq!(template_of(response("ingest_server_error")), "local.kinesis_server_error");
}

#[test]
fn retry_after_is_sent_only_where_a_retry_can_succeed() {
    let api = api();
    let retry_after = |block: &Block| {
        block.body().attributes().find(|a| a.key() == "response_parameters").is_some_and(|a| {
            matches!(a.expr(), Expression::Object(o) if o.keys().any(|k| key_name(k) == Some("method.response.header.Retry-After")))
        })
    };
    // Kinesis answers throttling and refusals alike with a 4xx: a static header would invite
    // retries of InvalidArgument or AccessDenied. The client-error template sets it on throttling.
    let client = api.block("resource", &["aws_api_gateway_integration_response", "ingest_client_error"]);
    assert!(!retry_after(client), "no static Retry-After on every Kinesis 4xx");
    let template = std::fs::read_to_string(terraform().join("modules/api/templates/kinesis_client_error.vtl")).unwrap();
    let override_at = template.find("#set($context.responseOverride.header.Retry-After").expect("the template sets Retry-After");
    let throttling_if = template.find("#if($errorType.contains(\"ProvisionedThroughputExceeded\")").expect("a throttling branch");
    let end = throttling_if + template[throttling_if..].find("#end").unwrap();
    assert!((throttling_if..end).contains(&override_at), "Retry-After only inside the throttling branch");
    // A 5xx acknowledged nothing and may be retried.
    let server = api.block("resource", &["aws_api_gateway_integration_response", "ingest_server_error"]);
    assert!(retry_after(server));
    // The method responses that carry it declare it (400/429/503).
    let Expression::Array(statuses) = api.local("ingest_method_statuses") else { panic!("ingest_method_statuses") };
    let statuses: Vec<&str> = statuses.iter().filter_map(text).collect();
    for status in ["400", "429", "503"] {
        assert!(statuses.contains(&status), "method response {status}");
    }
    for response in ["THROTTLED", "QUOTA_EXCEEDED"] {
        let gateway = api.block("resource", &["aws_api_gateway_gateway_response", "throttled"]);
        let Expression::FuncCall(call) = attr(gateway, "for_each") else { panic!("for_each") };
        assert!(format!("{:?}", call.args).contains(response), "{response} carries Retry-After");
    }
}

/// Resource types whose arguments define what a deployment serves.
const API_DEFINITION: [&str; 9] = [
    "aws_api_gateway_resource",
    "aws_api_gateway_method",
    "aws_api_gateway_integration",
    "aws_api_gateway_method_response",
    "aws_api_gateway_integration_response",
    "aws_api_gateway_gateway_response",
    "aws_api_gateway_model",
    "aws_api_gateway_request_validator",
    "aws_api_gateway_authorizer",
];

#[test]
fn every_change_to_the_api_makes_a_new_deployment() {
    let api = api();
    let deployment = api.block("resource", &["aws_api_gateway_deployment", "this"]);
    let Expression::Object(triggers) = attr(deployment, "triggers") else { panic!("triggers") };
    let Expression::FuncCall(sha1) = triggers.values().next().unwrap() else { panic!("sha1(jsonencode([...]))") };
    let Expression::FuncCall(jsonencode) = &sha1.args[0] else { panic!("jsonencode") };
    let Expression::Array(items) = &jsonencode.args[0] else { panic!("a list") };
    let hashed: BTreeSet<String> = items.iter().filter_map(reference).map(|p| p.join(".")).collect();
    let mut missing = Vec::new();
    for block in api.blocks("resource").filter(|b| API_DEFINITION.contains(&b.labels()[0].as_str())) {
        let whole = format!("{}.{}", block.labels()[0].as_str(), block.labels()[1].as_str());
        // The whole resource, so that every argument (credentials, request parameters,
        // passthrough behaviour, validators, selection patterns, response parameters) counts.
        if !hashed.contains(&whole) {
            missing.push(whole);
        }
    }
    assert!(missing.is_empty(), "the deployment's triggers omit {missing:?}: edits to them would apply but not be served");
    assert!(hashed.contains("aws_api_gateway_rest_api.this.minimum_compression_size"));
    let lifecycle = deployment.body().blocks().find(|b| b.identifier() == "lifecycle").expect("a lifecycle block");
    assert_eq!(attr(lifecycle, "create_before_destroy"), &Expression::Bool(true), "the stage never points at nothing");
    let stage = api.block("resource", &["aws_api_gateway_stage", "this"]);
    assert!(is_reference(attr(stage, "deployment_id"), "aws_api_gateway_deployment.this.id"));
}

#[test]
fn execution_logs_go_to_an_encrypted_expiring_group_made_first() {
    let api = api();
    let group = api.block("resource", &["aws_cloudwatch_log_group", "execution"]);
    assert_eq!(
        text(attr(group, "name")),
        Some("API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"),
        "the name API Gateway writes execution logs to"
    );
    let settings = api.block("resource", &["aws_api_gateway_method_settings", "all"]);
    let Expression::Array(after) = attr(settings, "depends_on") else { panic!("depends_on") };
    assert!(after.iter().any(|d| is_reference(d, "aws_cloudwatch_log_group.execution")), "made before logging is switched on");
    // Every log group of the stack expires and is encrypted.
    for module in all_modules() {
        for group in module.blocks("resource").filter(|b| b.labels()[0].as_str() == "aws_cloudwatch_log_group") {
            let at = format!("{} {}", module.name(), group.labels()[1].as_str());
            assert!(is_reference(attr(group, "retention_in_days"), "var.log_retention_days"), "{at}");
            assert!(is_reference(attr(group, "kms_key_id"), "var.kms_key_arn"), "{at}");
        }
    }
}

/// docs/openapi.yaml (issue: the OpenAPI contract): every operation not tagged
/// `x-local-only` is a route of the API Gateway (a route under a condition counts), and
/// every route of the API Gateway is in the spec, with the same method.
#[test]
fn the_specs_routes_not_local_only_are_the_api_gateways_routes() {
    let api = api();
    let mut deployed: BTreeSet<(String, String)> = routes(&api, "ingest_routes").into_iter().map(|(_, path, _)| ("post".to_owned(), path)).collect();
    deployed.extend(routes(&api, "query_routes").into_iter().map(|(_, path, _)| ("get".to_owned(), path)));

    let text = std::fs::read_to_string(repo().join("docs/openapi.yaml")).unwrap();
    let spec = yaml_rust2::YamlLoader::load_from_str(&text).expect("docs/openapi.yaml is YAML");
    let paths = spec[0]["paths"].as_hash().expect("the spec has paths");
    let mut served_on_aws = BTreeSet::new();
    let mut local_only = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path is a string");
        for (method, operation) in item.as_hash().expect("a path item is a map") {
            let method = method.as_str().expect("a method is a string");
            if !["get", "put", "post", "delete", "patch", "head", "options"].contains(&method) {
                continue;
            }
            let route = (method.to_owned(), path.to_owned());
            match operation["x-local-only"].as_bool() {
                Some(true) => local_only.insert(route),
                None => served_on_aws.insert(route),
                Some(false) => panic!("{method} {path}: write x-local-only only where it is true"),
            };
        }
    }
    assert_eq!(served_on_aws, deployed, "the spec's routes without x-local-only vs terraform/modules/api");
    assert!(local_only.is_disjoint(&deployed), "a deployed route is tagged x-local-only: {local_only:?}");
}
