//! A batch's stream records as the user records they hold: a plain record is one, a KPL
//! aggregated record ([`crate::kpl`]) is each of its user records with its own partition key
//! and its index as sub-sequence number, and an aggregated record that does not decode is
//! one user record (the whole record) that becomes a `malformed` bad row.
//!
//! A batch with no aggregated record is borrowed as it is: the plain path copies nothing.

use std::borrow::Cow;

use crate::bad_row::{BadRowType, Rejection, Violation};
use rayon::prelude::*;

use crate::kpl::{DeaggregationError, UserRecord, deaggregate, is_aggregated};
use crate::record::Record;

/// The `keyword` of the bad row of an aggregated record that does not decode.
pub const UNDECODABLE_KEYWORD: &str = "aggregatedRecord";

/// The user records of a batch, each traced back to its stream record.
#[derive(Debug)]
pub struct UserRecords<'a> {
    records: Cow<'a, [Record]>,
    /// `None` when no record was aggregated: user record i is stream record i.
    expansion: Option<Expansion>,
}

#[derive(Debug, Default)]
struct Expansion {
    /// For each user record, the index of its stream record.
    origin: Vec<usize>,
    /// For each user record, whether it came out of an aggregated record.
    aggregated: Vec<bool>,
    /// User records standing for an aggregated record that does not decode, with why, by
    /// index.
    undecodable: Vec<(usize, Rejection)>,
}

impl<'a> UserRecords<'a> {
    /// The user records of `records` (one shard's batch, in order).
    pub fn of(records: &'a [Record]) -> Self {
        if !records.iter().any(|r| is_aggregated(&r.data)) {
            return Self { records: Cow::Borrowed(records), expansion: None };
        }
        // Decoding (the MD5 above all) is most of the cost: one aggregated record per task.
        let decoded: Vec<Option<Result<Vec<UserRecord>, DeaggregationError>>> =
            records.par_iter().map(|r| is_aggregated(&r.data).then(|| deaggregate(&r.data))).collect();
        let users: usize = decoded.iter().map(|d| d.as_ref().and_then(|d| d.as_ref().ok()).map_or(1, Vec::len)).sum();
        let mut out = Vec::with_capacity(users);
        let mut expansion = Expansion { origin: Vec::with_capacity(users), aggregated: Vec::with_capacity(users), undecodable: Vec::new() };
        for (index, (record, decoded)) in records.iter().zip(decoded).enumerate() {
            match decoded {
                None => {
                    out.push(record.clone());
                    expansion.origin.push(index);
                    expansion.aggregated.push(false);
                }
                Some(Ok(users)) => {
                    for (sub, user) in users.into_iter().enumerate() {
                        out.push(Record {
                            data: user.data,
                            partition_key: user.partition_key,
                            sequence_number: record.sequence_number.clone(),
                            sub_sequence_number: u32::try_from(sub).unwrap_or(u32::MAX),
                            shard_id: record.shard_id.clone(),
                            arrival: record.arrival,
                        });
                        expansion.origin.push(index);
                        expansion.aggregated.push(true);
                    }
                }
                Some(Err(e)) => {
                    let why = Violation::new("", UNDECODABLE_KEYWORD, e.to_string());
                    expansion.undecodable.push((out.len(), Rejection::new(BadRowType::Malformed, why)));
                    out.push(record.clone());
                    expansion.origin.push(index);
                    expansion.aggregated.push(false);
                }
            }
        }
        Self { records: Cow::Owned(out), expansion: Some(expansion) }
    }

    /// Every user record, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// User records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no user record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The index of user record `i`'s stream record.
    #[inline]
    pub fn origin(&self, i: usize) -> usize {
        self.expansion.as_ref().map_or(i, |e| e.origin[i])
    }

    /// Whether user record `i` came out of an aggregated record.
    #[inline]
    pub fn is_aggregated(&self, i: usize) -> bool {
        self.expansion.as_ref().is_some_and(|e| e.aggregated[i])
    }

    /// Why user record `i` is refused before decoding: it stands for an aggregated record
    /// that does not decode.
    #[inline]
    pub fn rejection(&self, i: usize) -> Option<&Rejection> {
        let undecodable = &self.expansion.as_ref()?.undecodable;
        undecodable.binary_search_by_key(&i, |(at, _)| *at).ok().map(|at| &undecodable[at].1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::kpl::{MAX_AGGREGATED_BYTES, aggregate};

    fn record(seq: &str, key: &str, data: Vec<u8>) -> Record {
        Record {
            data,
            partition_key: key.into(),
            sequence_number: seq.into(),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000001".into(),
            arrival: Utc::now(),
        }
    }

    #[test]
    fn plain_batches_are_borrowed_and_aggregates_expand_in_place() {
        let plain = [record("1", "a", b"{}".to_vec()), record("2", "b", b"{}".to_vec())];
        let users = UserRecords::of(&plain);
        assert!(matches!(users.records, Cow::Borrowed(_)));
        assert_eq!((users.len(), users.origin(1), users.is_aggregated(1), users.rejection(1)), (2, 1, false, None));

        let packed = aggregate([("x", None, &b"{\"n\":0}"[..]), ("y", None, b"{\"n\":1}"), ("z", None, b"{\"n\":2}")], MAX_AGGREGATED_BYTES);
        let mut broken = packed[0].data.clone();
        broken.truncate(broken.len() - 3);
        let batch = [
            record("1", "a", b"{}".to_vec()),
            record("2", "x", packed[0].data.clone()),
            record("3", "c", broken.clone()),
            record("4", "d", b"{}".to_vec()),
        ];
        let users = UserRecords::of(&batch);
        let seen: Vec<(usize, &str, &str, u32, bool)> = (0..users.len())
            .map(|i| {
                let r = &users.records()[i];
                (users.origin(i), r.sequence_number.as_str(), r.partition_key.as_str(), r.sub_sequence_number, users.is_aggregated(i))
            })
            .collect();
        assert_eq!(
            seen,
            [(0, "1", "a", 0, false), (1, "2", "x", 0, true), (1, "2", "y", 1, true), (1, "2", "z", 2, true), (2, "3", "c", 0, false), (3, "4", "d", 0, false)]
        );
        assert_eq!(users.records()[2].data, b"{\"n\":1}");
        // The undecodable aggregate is one user record: the whole record, with the reason.
        let why = users.rejection(4).unwrap();
        assert_eq!((why.kind, why.errors[0].keyword.as_str()), (BadRowType::Malformed, UNDECODABLE_KEYWORD));
        assert!(why.errors[0].message.contains("MD5"), "{why:?}");
        assert_eq!(users.records()[4].data, broken);
        assert!((0..users.len()).filter(|&i| i != 4).all(|i| users.rejection(i).is_none()));
    }
}
