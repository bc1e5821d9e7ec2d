//! One configuration sized for one need: every part's figures, the monthly costs and the
//! quota increases. Pure: the same need and configuration always give the same plan.

use crate::plan::config::Config;
use crate::plan::costs::{QuotaIncrease, ServiceCost, monthly_costs, quota_increases};
use crate::plan::need::{Need, PlanError, check};
use crate::plan::sizing::{ArchivePlan, IngestPlan, ProcessorPlan, StreamPlan, archive, ingest, processor, shards_for_concurrency, stream};
use crate::plan::tables::{TablesPlan, tables};

/// A configuration's whole plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    pub need: Need,
    pub config: Config,
    pub ingest: IngestPlan,
    pub stream: StreamPlan,
    pub processor: ProcessorPlan,
    pub tables: TablesPlan,
    pub archive: ArchivePlan,
    pub costs: Vec<ServiceCost>,
    pub quota_increases: Vec<QuotaIncrease>,
}

impl Deployment {
    pub fn monthly_total_usd(&self) -> f64 {
        self.costs.iter().map(|c| c.usd_per_month).sum()
    }

    #[cfg(test)]
    pub fn cost(&self, service: &str) -> f64 {
        self.costs.iter().filter(|c| c.service == service).map(|c| c.usd_per_month).sum()
    }
}

/// Sizes `config` for `need`.
pub fn deployment(need: &Need, config: &Config) -> Result<Deployment, PlanError> {
    check(need)?;
    let kept = Need { query_event_types: config.kept_types.clone(), ..need.clone() }.kept_share();
    let ingest = ingest(need);
    let stream = stream(need, shards_for_concurrency(need, kept));
    let processor = processor(need, &stream, kept);
    let tables = tables(need, config, &processor);
    let archive = archive(need);
    let costs = monthly_costs(config, &ingest, &stream, &processor, &tables, &archive);
    let quota_increases = quota_increases(&ingest, &stream, &processor, &tables, &archive);
    Ok(Deployment { need: need.clone(), config: config.clone(), ingest, stream, processor, tables, archive, costs, quota_increases })
}
