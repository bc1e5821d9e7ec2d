//! Referer classification: `page.referrer` into `_pipeline.referer` (`medium`: search,
//! social, email, internal or unknown; `source`, e.g. `Google`; `term`, the search term).
//!
//! The table of sources is our own (`referers.json`, the major search, social and email
//! domains), extended or overridden by the enrichment file's `sources`.

use std::collections::HashMap;

use serde::Deserialize;

use super::campaign::push_decoded_json;
use super::field_path::FieldPath;
use super::length_set::LengthSet;
use super::memo::with_slot;
use super::seen_hosts::{self, TableId};
use super::url_parts::{first_param, has_host, host, query};
use super::{Issues, MemberKey, Output};
use crate::json_text::push_json_str;
use crate::group::{GroupField, GroupValues};
use crate::root_members::RootMembers;

/// The built-in table of referer sources.
pub const BUILTIN_SOURCES: &str = include_str!("referers.json");

/// The media a table entry can give (internal and unknown come from the rules, not the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMedium {
    /// Search engines; the search term is read from `term_parameters`.
    Search,
    /// Social networks.
    Social,
    /// Webmail.
    Email,
}

impl SourceMedium {
    fn as_str(self) -> &'static str {
        match self {
            SourceMedium::Search => "search",
            SourceMedium::Social => "social",
            SourceMedium::Email => "email",
        }
    }
}

/// One entry of the table: a source, its medium, its domains and where its search term is.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The name written as `source` (`Google`).
    pub source: String,
    /// The medium written for it.
    pub medium: SourceMedium,
    /// Host names; a host also matches through its parent domains (`uk.search.yahoo.com`
    /// matches `search.yahoo.com`). `name.*` matches `name.` and a top-level domain, or a
    /// second-level label of at most 3 letters and a top-level domain (`google.de`,
    /// `google.co.uk`, `google.com.au`).
    pub domains: Vec<String>,
    /// Query parameters of the search term, tried in order.
    #[serde(default)]
    pub term_parameters: Vec<String>,
}

/// The `parameters` of a referer file; every one has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefererParameters {
    /// The referrer's field.
    pub field: FieldPath,
    /// Where the page URL is (a referrer on the page's own host is internal).
    pub page_fields: Vec<FieldPath>,
    /// Domains (with their subdomains) whose referrers are internal.
    pub internal_domains: Vec<String>,
    /// Whether the built-in table is used (`sources` then adds to it and overrides it).
    pub builtin_sources: bool,
    /// Entries added to the built-in table; for a domain in both, the file's entry wins.
    pub sources: Vec<Source>,
}

impl Default for RefererParameters {
    fn default() -> Self {
        let path = |f: &str| FieldPath::parse(f).ok();
        Self {
            field: path("page.referrer").unwrap_or_else(|| unreachable!("a valid field name")),
            page_fields: ["page.url", "page_url"].iter().filter_map(|f| path(f)).collect(),
            internal_domains: Vec::new(),
            builtin_sources: true,
            sources: Vec::new(),
        }
    }
}

/// The referer enrichment, ready to run.
#[derive(Debug)]
pub struct Referer {
    field: FieldPath,
    page_fields: Vec<FieldPath>,
    internal_domains: Vec<String>,
    sources: Vec<Source>,
    /// Each source's `"medium":...,"source":...` members, written once.
    members: Vec<String>,
    /// Host → index in `sources`.
    exact: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    /// `name` of a `name.*` domain → index in `sources`.
    wildcard: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    /// The lengths of the keys of `exact` and of `wildcard` ([`LengthSet`]): most of the
    /// parent domains of a host are no key's length, and are not hashed.
    exact_lengths: LengthSet,
    wildcard_lengths: LengthSet,
    /// `term`.
    term_key: MemberKey,
    /// This table, for the per-thread cache of hosts seen.
    id: TableId,
}

/// `map`'s value for `key`, looked up only when `lengths` says a key may be that long.
fn get(map: &HashMap<Box<str>, usize, foldhash::fast::RandomState>, lengths: LengthSet, key: &str) -> Option<usize> {
    if lengths.may_hold(key.len()) { map.get(key).copied() } else { None }
}

impl Referer {
    /// Checks the parameters and builds the table; the message names the bad entry.
    pub(crate) fn new(parameters: RefererParameters) -> Result<Self, String> {
        if parameters.field.has_each() || parameters.page_fields.iter().any(FieldPath::has_each) {
            return Err("parameters.field and page_fields name one field each, not one inside an array ([])".into());
        }
        let mut sources = Vec::new();
        if parameters.builtin_sources {
            sources = serde_json::from_str::<Vec<Source>>(BUILTIN_SOURCES).map_err(|e| format!("the built-in referer table: {e}"))?;
        }
        let builtin = sources.len();
        sources.extend(parameters.sources);
        let mut exact = HashMap::default();
        let mut wildcard = HashMap::default();
        for (index, source) in sources.iter().enumerate() {
            let place = if index < builtin { "the built-in table".to_owned() } else { format!("parameters.sources[{}]", index - builtin) };
            if source.source.trim().is_empty() {
                return Err(format!("{place}: source is empty: name it, e.g. \"Google\""));
            }
            if source.domains.is_empty() {
                return Err(format!("{place} ({}): domains is empty", source.source));
            }
            for domain in &source.domains {
                check_domain(domain).map_err(|why| format!("{place} ({}): domain {domain:?} {why}", source.source))?;
                // A later entry (the file's own) overrides an earlier one for the same domain.
                match domain.strip_suffix(".*") {
                    Some(name) => wildcard.insert(name.into(), index),
                    None => exact.insert(domain.as_str().into(), index),
                };
            }
        }
        let mut internal_domains = Vec::new();
        for domain in parameters.internal_domains {
            check_domain(&domain).map_err(|why| format!("parameters.internal_domains: {domain:?} {why}"))?;
            if domain.ends_with(".*") {
                return Err(format!("parameters.internal_domains: {domain:?}: name the domain itself, without .*"));
            }
            internal_domains.push(domain);
        }
        let members = sources
            .iter()
            .map(|s| {
                let mut json = format!("\"medium\":\"{}\",\"source\":", s.medium.as_str());
                push_json_str(&mut json, &s.source);
                json
            })
            .collect();
        let (exact_lengths, wildcard_lengths) = (LengthSet::of(exact.keys().map(|k: &Box<str>| k.len())), LengthSet::of(wildcard.keys().map(|k: &Box<str>| k.len())));
        Ok(Self { field: parameters.field, page_fields: parameters.page_fields, internal_domains, sources, members, exact, wildcard, exact_lengths, wildcard_lengths, term_key: MemberKey::new("term"), id: TableId::new() })
    }

    /// Sources in the table (built-in and the file's).
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// The page URL fields the internal test reads (campaign attribution may have read them).
    pub(crate) fn page_fields(&self) -> &[FieldPath] {
        &self.page_fields
    }

    /// `page_url`: the event's page URL where the caller has found it already in
    /// [`page_fields`](Self::page_fields) (`None`: to be found here, if needed).
    pub(crate) fn apply<'a>(&self, event: &RootMembers<'a>, page_url: Option<Option<&'a str>>, out: &mut Output<'_>, issues: &mut Issues, groups: &mut GroupValues) {
        let Some(referrer) = self.field.find_str(event) else { return };
        if referrer.is_empty() {
            return;
        }
        // The referrer's host, and the fields of a referrer that is not internal, are a
        // function of the referrer alone: remembered per thread. Whether it is internal
        // reads the page URL too, and is decided each time.
        with_slot(&self.id, referrer, || host(referrer), |slot| {
            let Some(slot) = slot else {
                return match host(referrer) {
                    None => medium_only(out, groups, Unknown),
                    Some(host) if self.is_internal(&host, event, page_url) => medium_only(out, groups, Internal),
                    Some(host) => self.write_external(referrer, &host, out, issues, groups),
                };
            };
            // An empty note: no host (a host is never empty).
            if slot.note().is_empty() {
                return medium_only(out, groups, Unknown);
            }
            if self.is_internal(slot.note(), event, page_url) {
                return medium_only(out, groups, Internal);
            }
            if slot.write(out.0, groups) {
                return;
            }
            let failures = issues.len();
            slot.work_out(&GROUPED, out.0, groups, |host, text, groups| {
                self.write_external(referrer, host, &mut Output(text), issues, groups);
                issues.len() == failures
            });
        })
    }

    /// The fields of a referrer from `host`, which is not internal: its source's, or unknown
    /// (for a referrer this thread has not remembered, so out of the way of the path of one
    /// remembered).
    #[inline(never)]
    fn write_external(&self, referrer: &str, host: &str, out: &mut Output<'_>, issues: &mut Issues, groups: &mut GroupValues) {
        let Some(index) = seen_hosts::source_of(&self.id, self.exact.hasher(), host, |host| self.source_of(host)) else {
            return medium_only(out, groups, Unknown);
        };
        let mut object = out.object("referer");
        let source = &self.sources[index];
        object.members(&self.members[index]);
        groups.push(GroupField::RefererMedium, source.medium.as_str());
        groups.push(GroupField::RefererSource, &source.source);
        if let Some((param, raw)) = query(referrer).and_then(|q| first_param(q, &source.term_parameters)) {
            push_decoded_json(object.key(&self.term_key), raw, param, &self.field, issues);
        }
    }

    fn is_internal<'a>(&self, host: &str, event: &RootMembers<'a>, page_url: Option<Option<&'a str>>) -> bool {
        let page = page_url.unwrap_or_else(|| self.page_fields.iter().find_map(|f| f.find_str(event)));
        page.is_some_and(|page| has_host(page, host)) || self.internal_domains.iter().any(|d| is_within(host, d))
    }

    /// The table's entry for `host`: the longest matching domain, exact before `name.*`.
    fn source_of(&self, host: &str) -> Option<usize> {
        // Where the last label and the one before it start (`google.co.uk`: 10 and 7).
        let last = host.rfind('.').map_or(0, |i| i + 1);
        let second_last = if last > 0 { host[..last - 1].rfind('.').map_or(0, |i| i + 1) } else { 0 };
        let short_second_last = last > 0 && last - 1 - second_last <= 3;
        let mut start = 0;
        loop {
            if let Some(i) = get(&self.exact, self.exact_lengths, &host[start..]) {
                return Some(i);
            }
            // `name.*`: after `name` comes one label, or a short label and one more.
            if start < last {
                if let Some(i) = get(&self.wildcard, self.wildcard_lengths, &host[start..last - 1]) {
                    return Some(i);
                }
            }
            if short_second_last && start < second_last {
                if let Some(i) = get(&self.wildcard, self.wildcard_lengths, &host[start..second_last - 1]) {
                    return Some(i);
                }
            }
            start += host[start..].find('.')? + 1;
        }
    }
}

/// The group fields referer classification sets.
const GROUPED: [GroupField; 2] = [GroupField::RefererMedium, GroupField::RefererSource];

/// The media a referrer gets without a source.
#[derive(Clone, Copy)]
enum MediumOnly {
    /// On the page's own host or an internal domain.
    Internal,
    /// No host, or one the table does not know.
    Unknown,
}
use MediumOnly::{Internal, Unknown};

/// Writes a referer with its medium alone.
fn medium_only(out: &mut Output<'_>, groups: &mut GroupValues, medium: MediumOnly) {
    let (members, name) = match medium {
        Internal => ("\"medium\":\"internal\"", "internal"),
        Unknown => ("\"medium\":\"unknown\"", "unknown"),
    };
    out.object("referer").members(members);
    groups.push(GroupField::RefererMedium, name);
}

/// Whether `host` is `domain` or one of its subdomains.
fn is_within(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// A lower-case host name, optionally ending in `.*`.
fn check_domain(domain: &str) -> Result<(), &'static str> {
    let name = domain.strip_suffix(".*").unwrap_or(domain);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err("is not a host name like example.com (or example.*)");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return Err("may hold only lower-case letters, digits, - and . (no scheme, path or port)");
    }
    Ok(())
}
