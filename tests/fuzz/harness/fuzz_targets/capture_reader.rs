#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| (pcapxray_fuzz::target("capture_reader").expect("a target").run)(data));
