//! What the core runs with, loaded once at start (Lambda init, `pipeline up`): the schema
//! registry (the tracking plan) and the enrichments.

use std::path::Path;
use std::sync::Arc;

use crate::enrichments::lookup::TableBudget;
use crate::enrichments::{EnrichmentError, Enrichments};
use crate::schema_registry::{SchemaError, SchemaRegistry};

/// Schemas and enrichments together.
#[derive(Debug)]
pub struct CoreConfig {
    /// Shared: the query API also reads the event types.
    pub schemas: Arc<SchemaRegistry>,
    /// The configured enrichments (campaign, referer, lookup tables) every valid event gets.
    pub enrichments: Enrichments,
}

/// Why the core's configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CoreConfigError {
    /// The schemas did not load.
    #[error(transparent)]
    Schemas(#[from] SchemaError),
    /// The enrichments did not load.
    #[error(transparent)]
    Enrichments(#[from] EnrichmentError),
}

impl CoreConfig {
    /// The embedded schemas and enrichments.
    pub fn embedded() -> Result<Self, CoreConfigError> {
        Ok(Self { schemas: Arc::new(SchemaRegistry::embedded()?), enrichments: Enrichments::embedded(TableBudget::local())? })
    }

    /// Each directory given replaces its embedded set; lookup tables must fit `budget`.
    pub fn load(schemas: Option<&Path>, enrichments: Option<&Path>, budget: TableBudget) -> Result<Self, CoreConfigError> {
        Ok(Self { schemas: Arc::new(SchemaRegistry::load(schemas)?), enrichments: Enrichments::load(enrichments, budget)? })
    }

    /// `schemas` with no enrichment at all.
    pub fn without_enrichments(schemas: SchemaRegistry) -> Self {
        Self { schemas: Arc::new(schemas), enrichments: Enrichments::none() }
    }
}
