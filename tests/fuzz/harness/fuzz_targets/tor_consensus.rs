#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| (pcapxray_fuzz::target("tor_consensus").expect("a target").run)(data));
