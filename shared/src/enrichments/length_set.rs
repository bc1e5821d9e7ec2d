//! A set of string lengths in one word: which lengths some configured name or key has, so
//! that a string of no such length is passed over without comparing or hashing it (most of
//! a query's parameter names, most parent domains of a referrer host).

/// A set of lengths; 127 stands for every length from 127 on.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LengthSet(u128);

impl LengthSet {
    /// The set of these lengths.
    pub(crate) fn of(lengths: impl IntoIterator<Item = usize>) -> Self {
        Self(lengths.into_iter().fold(0, |bits, len| bits | 1 << len.min(127)))
    }

    /// Whether something `len` bytes long may be in the set it was made of.
    pub(crate) fn may_hold(self, len: usize) -> bool {
        self.0 & 1 << len.min(127) != 0
    }
}
