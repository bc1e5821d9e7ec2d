//! Choosing an event's schema and checking the event against it (DESIGN sections 2-3).

use simd_json::StaticNode;

use crate::bad_row::{BadRowType, Rejection, Violation};
use crate::root_members::RootMembers;
use crate::schema_registry::{CompiledSchema, ResolveError, SchemaRegistry, is_valid_event_type};

/// The envelope fields enrichment needs, borrowed from a valid event.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The event's `user_id`, the partition of the events store.
    pub user_id: UserId<'a>,
    /// The event's `timestamp` text, if it has one (checked as RFC 3339 by enrichment).
    pub timestamp: Option<&'a str>,
    /// The event's own `event_id`; `None`: one is derived from the record.
    pub event_id: Option<&'a str>,
    /// The event's `user_agent`, for the parsed device and browser.
    pub user_agent: Option<&'a str>,
    /// A purchase's `currency` and `amount`, for the revenue aggregates.
    pub revenue: Option<(&'a str, f64)>,
    /// The whole event, for the configured enrichments.
    pub event: &'a RootMembers<'a>,
}

/// `user_id`: a string, or an integer >= 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UserId<'a> {
    /// A string user id, as sent.
    Text(&'a str),
    /// An integer user id.
    Number(u64),
}

impl std::fmt::Display for UserId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserId::Text(s) => f.write_str(s),
            UserId::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Longest `event_type` copied into a bad row (the payload keeps the rest).
const MAX_REPORTED_NAME: usize = 128;

fn reported(name: &str) -> String {
    name.chars().take(MAX_REPORTED_NAME).collect()
}

/// Resolves the schema of `event` (an object) and validates it.
pub fn validate_event<'r, 'a>(
    registry: &'r SchemaRegistry,
    event: &'a RootMembers<'a>,
) -> Result<(&'r CompiledSchema, Envelope<'a>), Rejection> {
    let violation = |path: &str, keyword: &str, message: String| {
        Rejection::new(BadRowType::SchemaViolation, Violation::new(path, keyword, message))
    };
    let event_type = match event.get("event_type") {
        None => {
            return Err(violation("", "required", "\"event_type\" is a required property".into()));
        }
        Some(v) => v.as_str().ok_or_else(|| {
            violation("/event_type", "type", format!("event_type is {}; it must be a string", v.type_name()))
        })?,
    };
    let version = match event.get("schema_version") {
        None => None,
        Some(v) => Some(v.as_str().ok_or_else(|| {
            let mut r = violation(
                "/schema_version",
                "type",
                format!("schema_version is {}; it must be a string like \"1-0-0\"", v.type_name()),
            );
            r.event_type = Some(reported(event_type));
            r
        })?),
    };
    let schema = registry.resolve(event_type, version).map_err(|e| match e {
        ResolveError::UnknownEventType => {
            let message = if is_valid_event_type(event_type) {
                format!("no schema for event type {event_type:?}: add schemas/{event_type}/1-0-0.json")
            } else {
                format!("{:?} is not an event type: names match ^[a-z][a-z0-9_]{{0,63}}$", reported(event_type))
            };
            let mut r = Rejection::new(
                BadRowType::UnknownEventType,
                Violation::new("/event_type", "event_type", message),
            );
            r.event_type = Some(reported(event_type));
            r
        }
        ResolveError::UnknownSchemaVersion => {
            let known: Vec<String> = registry.versions(event_type).iter().map(|v| v.to_string()).collect();
            let mut r = Rejection::new(
                BadRowType::UnknownSchemaVersion,
                Violation::new(
                    "/schema_version",
                    "schema_version",
                    format!(
                        "{event_type} has no schema version {:?}; known versions: {}",
                        reported(version.unwrap_or_default()),
                        known.join(", ")
                    ),
                ),
            );
            r.event_type = Some(reported(event_type));
            r
        }
    })?;
    let errors = schema.violations(event.event());
    if !errors.is_empty() {
        return Err(Rejection {
            kind: BadRowType::SchemaViolation,
            event_type: Some(event_type.to_owned()),
            schema: Some(schema.key().to_owned()),
            errors,
        });
    }
    let user_id = match event.get("user_id").and_then(|v| v.as_str().map(UserId::Text).or_else(|| v.as_static().and_then(whole_number))) {
        Some(id) => id,
        // The schema requires a valid user_id; a schema directory that does not is refused here.
        None => {
            let mut r = violation("/user_id", "required", "user_id must be a string or an integer >= 0".into());
            r.event_type = Some(event_type.to_owned());
            r.schema = Some(schema.key().to_owned());
            return Err(r);
        }
    };
    let user_agent = ["device", "context"]
        .iter()
        .find_map(|parent| event.get(parent).and_then(|p| p.get("user_agent")).and_then(|ua| ua.as_str()));
    Ok((
        schema,
        Envelope {
            user_id,
            timestamp: event.get("timestamp").and_then(|v| v.as_str()),
            event_id: event.get("event_id").and_then(|v| v.as_str()),
            user_agent,
            revenue: revenue(schema.event_type(), event),
            event,
        },
    ))
}

/// The event type whose `amount` in `currency` is revenue.
pub const REVENUE_EVENT_TYPE: &str = "purchase";

fn revenue<'a>(event_type: &str, event: &RootMembers<'a>) -> Option<(&'a str, f64)> {
    if event_type != REVENUE_EVENT_TYPE {
        return None;
    }
    let currency = event.get("currency")?.as_str()?;
    #[allow(clippy::cast_precision_loss)]
    let amount = match event.get("amount")?.as_static()? {
        StaticNode::U64(n) => n as f64,
        StaticNode::I64(n) => n as f64,
        StaticNode::F64(f) => f,
        _ => return None,
    };
    Some((currency, amount))
}

/// An integer >= 0, also when written with a zero fraction (`7.0`), which JSON Schema counts
/// as an integer.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole_number(node: StaticNode) -> Option<UserId<'static>> {
    match node {
        StaticNode::U64(n) => Some(UserId::Number(n)),
        StaticNode::I64(n) => u64::try_from(n).ok().map(UserId::Number),
        StaticNode::F64(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => Some(UserId::Number(f as u64)),
        _ => None,
    }
}
