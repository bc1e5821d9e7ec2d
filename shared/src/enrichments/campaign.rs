//! Campaign attribution: the UTM parameters and click ids of the page URL into
//! `_pipeline.campaign` (`source`, `medium`, `name`, `term`, `content`, `click_id`).

use serde::Deserialize;

use super::field_path::FieldPath;
use super::length_set::LengthSet;
use super::memo::write_remembered;
use super::seen_hosts::TableId;
use super::url_parts::{params, push_plus_decoded_json, query, with_decoded};
use super::{Issues, MemberKey, Output};
use crate::json_text::push_json_str;
use crate::group::{GroupField, GroupValues};
use crate::root_members::RootMembers;

/// The `parameters` of a campaign file; every one has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignParameters {
    /// Where the page URL is, tried in order: `page.url` (pageview), `page_url` (click).
    pub url_fields: Vec<FieldPath>,
    /// Query parameters of each output field, tried in order (names ignore ASCII case).
    pub source: Vec<String>,
    /// The same, for `medium` (`utm_medium`).
    pub medium: Vec<String>,
    /// The same, for `name` (`utm_campaign`).
    pub name: Vec<String>,
    /// The same, for `term` (`utm_term`).
    pub term: Vec<String>,
    /// The same, for `content` (`utm_content`).
    pub content: Vec<String>,
    /// Click-id parameters, in order of preference: the first present is `click_id`.
    pub click_ids: Vec<String>,
}

impl Default for CampaignParameters {
    fn default() -> Self {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect();
        Self {
            url_fields: ["page.url", "page_url"].iter().filter_map(|f| FieldPath::parse(f).ok()).collect(),
            source: names(&["utm_source"]),
            medium: names(&["utm_medium"]),
            name: names(&["utm_campaign"]),
            term: names(&["utm_term"]),
            content: names(&["utm_content"]),
            click_ids: names(&["gclid", "fbclid", "msclkid"]),
        }
    }
}

impl CampaignParameters {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.url_fields.is_empty() {
            return Err("parameters.url_fields is empty: name the page URL's field, e.g. [\"page.url\"]".into());
        }
        if let Some(f) = self.url_fields.iter().find(|f| f.has_each()) {
            return Err(format!("parameters.url_fields: {f} goes into an array; the page URL is one field"));
        }
        for (what, names) in self.outputs().iter().map(|(k, n)| (*k, *n)).chain([("click_ids", &self.click_ids)]) {
            if let Some(bad) = names.iter().find(|n| n.is_empty() || n.contains(['&', '=', '#', '?'])) {
                return Err(format!("parameters.{what}: {bad:?} is not a query parameter name"));
            }
        }
        Ok(())
    }

    fn outputs(&self) -> [(&'static str, &Vec<String>); 5] {
        [("source", &self.source), ("medium", &self.medium), ("name", &self.name), ("term", &self.term), ("content", &self.content)]
    }
}

impl ParameterName {
    /// Whether `name` (as long as this one) is this name, ignoring ASCII case. The names of
    /// one length mostly differ at their ends (`utm_source`, `utm_medium`): the last byte
    /// first; and most are sent in lower case, compared whole at once.
    fn matches(&self, name: &[u8]) -> bool {
        let last = name.len() - 1;
        name[last].to_ascii_lowercase() == self.lower[last] && (crate::word_scan::same_bytes(name, &self.lower) || name.eq_ignore_ascii_case(&self.lower))
    }
}

/// The campaign enrichment, ready to run.
#[derive(Debug)]
pub struct Campaign {
    parameters: CampaignParameters,
    /// The lengths of the parameter names, so most of a query's parameters are passed over
    /// at a glance.
    name_lengths: LengthSet,
    /// Every configured name once per list it is in: a parameter is compared only with
    /// the names of its length.
    names: Vec<ParameterName>,
    /// The group field of each output, in [`CampaignParameters::outputs`] order.
    grouped: [Option<GroupField>; 5],
    /// Each output's member name, in the same order.
    keys: [MemberKey; 5],
    /// `click_id`.
    click_key: MemberKey,
    /// This configuration, for the per-thread memo of queries seen.
    id: TableId,
}

/// The group fields campaign attribution sets.
const GROUPED: [GroupField; 3] = [GroupField::CampaignSource, GroupField::CampaignMedium, GroupField::CampaignName];

/// One name of one output's list.
#[derive(Debug)]
struct ParameterName {
    /// Lower-cased (names are compared ignoring ASCII case).
    lower: Box<[u8]>,
    /// The output (0-4 as in [`CampaignParameters::outputs`], 5 the click id).
    output: usize,
    /// Its place in that output's list: a lower one is preferred.
    rank: usize,
}

impl Campaign {
    pub(crate) fn new(parameters: CampaignParameters) -> Self {
        let lists = parameters.outputs().into_iter().map(|(_, n)| n).chain([&parameters.click_ids]);
        let mut names = Vec::new();
        for (output, list) in lists.enumerate() {
            for (rank, name) in list.iter().enumerate() {
                names.push(ParameterName { lower: name.to_ascii_lowercase().into_bytes().into(), output, rank });
            }
        }
        let name_lengths = LengthSet::of(names.iter().map(|n| n.lower.len()));
        let grouped = parameters.outputs().map(|(key, _)| GroupField::of_campaign(key));
        let keys = parameters.outputs().map(|(key, _)| MemberKey::new(key));
        Self { parameters, name_lengths, names, grouped, keys, click_key: MemberKey::new("click_id"), id: TableId::new() }
    }

    /// The page URL fields read, in order.
    pub(crate) fn url_fields(&self) -> &[FieldPath] {
        &self.parameters.url_fields
    }

    /// Returns the page URL found (for the referer's internal test, where it reads the same fields).
    pub(crate) fn apply<'a>(&self, event: &RootMembers<'a>, out: &mut Output<'_>, issues: &mut Issues, groups: &mut GroupValues) -> Option<&'a str> {
        let found = self.parameters.url_fields.iter().find_map(|f| f.find_str(event).map(|url| (f, url)));
        let (field, url) = found?;
        let Some(query) = query(url) else { return Some(url) };
        // The fields are a function of the query alone (`field` only names it in failures,
        // and an answer with a failure is not kept).
        let failures = issues.len();
        write_remembered(&self.id, query, &GROUPED, out.0, groups, |out, groups| {
            self.write(field, query, &mut Output(out), issues, groups);
            issues.len() == failures
        });
        Some(url)
    }

    /// Writes the fields of the page URL's `query` (found in `field`): for a query this
    /// thread has not remembered, so out of the way of the remembered one's path.
    #[inline(never)]
    fn write(&self, field: &FieldPath, query: &str, out: &mut Output<'_>, issues: &mut Issues, groups: &mut GroupValues) {
        // One pass over the query: for each output, the first value of its most preferred
        // parameter (the lowest rank in its list).
        let mut best: [Option<(usize, &str)>; 6] = [None; 6];
        for (name, value) in params(query) {
            if value.is_empty() || !self.name_lengths.may_hold(name.len()) {
                continue;
            }
            let name = name.as_bytes();
            for n in self.names.iter().filter(|n| n.lower.len() == name.len()) {
                let slot = &mut best[n.output];
                if slot.is_none_or(|(rank, _)| n.rank < rank) && n.matches(name) {
                    *slot = Some((n.rank, value));
                }
            }
        }
        if best.iter().all(Option::is_none) {
            return;
        }
        let mut object = out.object("campaign");
        let outputs = self.parameters.outputs();
        for ((((_, names), slot), group), key) in outputs.iter().zip(&best).zip(self.grouped).zip(&self.keys) {
            if let Some((i, raw)) = slot {
                decoded(raw, &names[*i], field, issues, |value| {
                    push_json_str(object.key(key), value);
                    if let Some(group) = group {
                        groups.push(group, value);
                    }
                });
            }
        }
        if let Some((i, raw)) = best[5] {
            let param = &self.parameters.click_ids[i];
            let click = object.key(&self.click_key);
            click.push_str("{\"param\":");
            push_json_str(click, param);
            click.push_str(",\"value\":");
            push_decoded_json(click, raw, param, field, issues);
            click.push('}');
        }
    }
}

/// Appends `raw` percent-decoded as a JSON string literal (`param` in `field`: what a
/// failure names, as [`decoded`]).
pub(crate) fn push_decoded_json(out: &mut String, raw: &str, param: &str, field: &FieldPath, issues: &mut Issues) {
    if !push_plus_decoded_json(out, raw) {
        decoded(raw, param, field, issues, |text| push_json_str(out, text));
    }
}

/// Calls `use_text` with `raw` percent-decoded; text that is not UTF-8 once decoded is
/// given with U+FFFD in place of the bad bytes, and reported.
pub(crate) fn decoded<R>(raw: &str, param: &str, field: &FieldPath, issues: &mut Issues, use_text: impl FnOnce(&str) -> R) -> R {
    with_decoded(raw, |text| match text {
        Ok(text) => use_text(text),
        Err(lossy) => {
            issues.push(field.pointer(None), format!("{param} in {field} is not UTF-8 once percent-decoded; the bad bytes are kept as U+FFFD"));
            use_text(lossy)
        }
    })
}
