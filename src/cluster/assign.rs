//! Which node should own each hall: a pure function of the halls, the
//! live nodes and the operator's pins, so every node computes the same
//! answer from the same membership without asking the others.
//!
//! Rendezvous hashing: each hall goes to the live node whose hash with the
//! hall is highest. Halls spread evenly, and when a node joins or leaves
//! only the halls that node gains or loses move (about 1/n of them), not a
//! reshuffle of all.

use std::collections::HashMap;

use crate::engine::HallId;

/// The node each hall should be owned by, for the live `nodes` (names,
/// any order, no repeats). A hall pinned to a live node goes there; one
/// pinned to a node that is down goes where it would unpinned, until its
/// node is back. `None` when no node is alive.
pub fn desired<'a>(hall: HallId, nodes: &'a [String], pins: &HashMap<HallId, String>) -> Option<&'a str> {
    if let Some(pinned) = pins.get(&hall)
        && let Some(n) = nodes.iter().find(|n| *n == pinned)
    {
        return Some(n);
    }
    nodes
        .iter()
        .max_by_key(|n| (score(hall.as_str(), n), n.as_str()))
        .map(String::as_str)
}

/// A hash of the pair that is the same in every build and on every
/// machine (the std hasher promises neither): FNV-1a over both names,
/// then a SplitMix64 finaliser to spread close inputs.
fn score(hall: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in hall.bytes().chain([0xff]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Code;

    fn halls(n: usize) -> Vec<HallId> {
        (0..n).map(|i| Code::new(&format!("hall{i}")).unwrap()).collect()
    }

    fn names(ns: &[&str]) -> Vec<String> {
        ns.iter().map(|s| (*s).to_owned()).collect()
    }

    fn counts(halls: &[HallId], nodes: &[String]) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for h in halls {
            *out.entry(desired(*h, nodes, &HashMap::new()).unwrap().to_owned())
                .or_default() += 1;
        }
        out
    }

    #[test]
    fn halls_spread_evenly_and_the_order_nodes_are_listed_in_does_not_matter() {
        let all = halls(3000);
        let got = counts(&all, &names(&["n1", "n2", "n3"]));
        for (node, n) in &got {
            // 1,000 each, within a few standard deviations.
            assert!((900..=1100).contains(n), "{node}: {n} of 3000");
        }
        assert_eq!(got, counts(&all, &names(&["n3", "n1", "n2"])));
    }

    #[test]
    fn a_node_joining_or_leaving_moves_only_its_share() {
        let all = halls(3000);
        let three = names(&["n1", "n2", "n3"]);
        let four = names(&["n1", "n2", "n3", "n4"]);
        let none = HashMap::new();
        let mut moved = 0;
        for h in &all {
            let before = desired(*h, &three, &none).unwrap();
            let after = desired(*h, &four, &none).unwrap();
            if before != after {
                assert_eq!(after, "n4", "{h} moved between old nodes");
                moved += 1;
            }
        }
        assert!((600..=900).contains(&moved), "{moved} of 3000 moved to the fourth node");
        // n2 leaves: only its halls move.
        let two = names(&["n1", "n3"]);
        for h in &all {
            let before = desired(*h, &three, &none).unwrap();
            if before != "n2" {
                assert_eq!(desired(*h, &two, &none).unwrap(), before);
            }
        }
    }

    #[test]
    fn pins_hold_while_their_node_lives() {
        let hall = halls(1)[0];
        let nodes = names(&["n1", "n2", "n3"]);
        let free = desired(hall, &nodes, &HashMap::new()).unwrap().to_owned();
        let other = nodes.iter().find(|n| **n != free).unwrap().clone();
        let pins = HashMap::from([(hall, other.clone())]);
        assert_eq!(desired(hall, &nodes, &pins), Some(other.as_str()));
        let without: Vec<String> = nodes.iter().filter(|n| **n != other).cloned().collect();
        assert_eq!(desired(hall, &without, &pins), Some(free.as_str()));
        assert_eq!(desired(hall, &[], &pins), None);
    }
}
