//! Positions filed under label pairs. A selector's matchLabels must all be on a pod, so
//! only the items filed under one of its pairs can match: the rules look those up instead
//! of checking every selector against every pod owner, which grew with the square of the
//! components.

use std::collections::BTreeMap;

/// Positions (into a list the caller keeps) under each label pair, in increasing order.
#[derive(Debug, Clone, Default)]
pub(super) struct ByLabel<'a> {
    /// Key, then value: a map keyed by the pair could only be searched with pairs that
    /// live as long as it does.
    positions: BTreeMap<&'a str, BTreeMap<&'a str, Vec<usize>>>,
}

impl<'a> ByLabel<'a> {
    /// Files `position` under `key=value`. Positions come in increasing order, so each list
    /// stays in emission order without sorting.
    pub(super) fn file(&mut self, key: &'a str, value: &'a str, position: usize) {
        self.positions
            .entry(key)
            .or_default()
            .entry(value)
            .or_default()
            .push(position);
    }

    /// The positions filed under `key=value`.
    pub(super) fn get(&self, key: &str, value: &str) -> &[usize] {
        self.positions
            .get(key)
            .and_then(|values| values.get(value))
            .map_or(&[], Vec::as_slice)
    }

    /// The shortest list among the pairs of `pairs`: whatever carries all the pairs is in
    /// every list, the shortest is the fewest to check. `None` when there are no pairs,
    /// since then nothing narrows the search.
    pub(super) fn rarest(&self, pairs: &BTreeMap<String, String>) -> Option<&[usize]> {
        pairs
            .iter()
            .map(|(k, v)| self.get(k, v))
            .min_by_key(|p| p.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::ByLabel;

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_rarest_pair_narrows_and_an_unknown_pair_leaves_nothing() {
        let mut index = ByLabel::default();
        for (i, tier) in ["web", "web", "db"].into_iter().enumerate() {
            index.file("part-of", "shop", i);
            index.file("tier", tier, i);
        }
        assert_eq!(index.get("tier", "web"), [0, 1]);
        assert_eq!(
            index.rarest(&pairs(&[("part-of", "shop"), ("tier", "db")])),
            Some(&[2][..])
        );
        assert_eq!(
            index.rarest(&pairs(&[("part-of", "shop"), ("tier", "cache")])),
            Some(&[][..])
        );
        assert_eq!(index.rarest(&pairs(&[])), None);
    }
}
