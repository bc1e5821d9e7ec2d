//! The cheapest configuration that meets a need, and the road to it from the stack's
//! defaults: every combination of the levers the need allows is priced (there are at most
//! 2^7), the cheapest wins (fewer levers on a tie), and its levers are then applied one at a
//! time in [`LEVERS`] order, each saving measured on top of the ones before, so that the
//! savings add up exactly to the difference between the two totals.

use crate::plan::config::{Config, LEVERS, Lever};
use crate::plan::deployment::{Deployment, deployment};
use crate::plan::need::{Need, PlanError};

/// One lever on the road: whether the cheapest configuration uses it, and what it saved
/// there (or would have changed, where it is not used).
#[derive(Clone, Debug, PartialEq)]
pub struct LeverStep {
    pub lever: Lever,
    /// `None`: the need does not allow it, or it changes nothing.
    pub used: Option<bool>,
    /// Used: the saving on top of the levers before it. Not used: what it would save (< 0:
    /// it would cost more).
    pub saving_usd: f64,
}

/// The default and the cheapest plan of a need.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub default: Deployment,
    pub cheapest: Deployment,
    pub steps: Vec<LeverStep>,
    /// What the per-type index would add to the cheapest configuration, where it is off.
    pub index_usd: Option<f64>,
    /// With `--aggregate`: the cheapest configuration's shards and total without KPL
    /// aggregation (producers POSTing one event per record).
    pub without_aggregation: Option<(u64, f64)>,
}

impl Comparison {
    /// Sum of the used levers' savings (equal to the difference of the totals).
    pub fn total_saving_usd(&self) -> f64 {
        self.steps.iter().filter(|s| s.used == Some(true)).map(|s| s.saving_usd).sum()
    }
}

/// `config` with `levers` applied in order (each where it changes something).
fn with_levers(config: &Config, need: &Need, levers: &[Lever]) -> Config {
    levers.iter().fold(config.clone(), |c, lever| lever.apply(&c, need).unwrap_or(c))
}

fn total(need: &Need, config: &Config) -> Result<f64, PlanError> {
    Ok(deployment(need, config)?.monthly_total_usd())
}

pub fn compare(need: &Need) -> Result<Comparison, PlanError> {
    let start = Config::stack_default(need);
    let default = deployment(need, &start)?;
    let usable: Vec<Lever> = LEVERS.into_iter().filter(|l| l.apply(&start, need).is_some()).collect();

    // The cheapest combination (ties: fewer levers, then the earlier ones).
    let mut best: (f64, Vec<Lever>) = (default.monthly_total_usd(), Vec::new());
    for mask in 1u32..(1 << usable.len()) {
        let chosen: Vec<Lever> = usable.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, l)| *l).collect();
        let cost = total(need, &with_levers(&start, need, &chosen))?;
        let better = cost < best.0 - 1e-6 || ((cost - best.0).abs() <= 1e-6 && chosen.len() < best.1.len());
        if better {
            best = (cost, chosen);
        }
    }

    let mut steps = Vec::new();
    let mut current = start;
    let mut current_total = default.monthly_total_usd();
    for lever in LEVERS {
        let Some(next) = lever.apply(&current, need) else {
            steps.push(LeverStep { lever, used: None, saving_usd: 0.0 });
            continue;
        };
        let next_total = total(need, &next)?;
        if best.1.contains(&lever) {
            steps.push(LeverStep { lever, used: Some(true), saving_usd: current_total - next_total });
            current = next;
            current_total = next_total;
        } else {
            steps.push(LeverStep { lever, used: Some(false), saving_usd: current_total - next_total });
        }
    }
    let cheapest = deployment(need, &current)?;
    let index_usd = if current.index {
        None
    } else {
        Some(total(need, &Config { index: true, ..current.clone() })? - cheapest.monthly_total_usd())
    };
    let without_aggregation = if need.kpl_aggregation {
        let plain = deployment(&Need { kpl_aggregation: false, ..need.clone() }, &current)?;
        Some((plain.stream.shards, plain.monthly_total_usd()))
    } else {
        None
    };
    Ok(Comparison { default, cheapest, steps, index_usd, without_aggregation })
}
