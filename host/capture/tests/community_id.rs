//! Community ID v1 against reference values: the spec's baseline (corelight/community-id-spec
//! `baseline/*.json`, commit b1fe530, copied into tests/data) and the PyPI reference implementation
//! (`communityid` 1.5.0, tests/data/community_id_pypi.json, written by tests/data/community_id_pypi.py).

use pcapxray_capture::community_id::{FlowTuple, community_id};
use serde_json::Value;

fn vectors(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Checks every vector of a file with the given seed (`None`: the seed each vector names).
fn check(file: &str, seed: Option<u16>) -> usize {
    let all = vectors(file);
    for v in &all {
        let port = |k: &str| v[k].as_u64().map(|p| p as u16).unwrap_or(0);
        let tuple = FlowTuple {
            src: v["saddr"].as_str().unwrap().parse().unwrap(),
            dst: v["daddr"].as_str().unwrap().parse().unwrap(),
            proto: v["proto"].as_u64().unwrap() as u8,
            src_port: port("sport"),
            dst_port: port("dport"),
        };
        let seed = seed.unwrap_or_else(|| v["seed"].as_u64().unwrap() as u16);
        assert_eq!(
            community_id(&tuple, seed),
            v["communityid"].as_str().unwrap(),
            "{file}: {v}"
        );
    }
    all.len()
}

#[test]
fn community_ids_match_the_spec_baseline_with_seeds_0_and_1() {
    assert_eq!(check("community_id_baseline_deflt.json", Some(0)), 23);
    assert_eq!(check("community_id_baseline_seed1.json", Some(1)), 23);
}

#[test]
fn community_ids_match_the_pypi_reference_implementation() {
    assert_eq!(check("community_id_pypi.json", None), 34);
}
