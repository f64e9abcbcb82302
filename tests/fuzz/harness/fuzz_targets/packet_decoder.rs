#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| (pcapxray_fuzz::target("packet_decoder").expect("a target").run)(data));
