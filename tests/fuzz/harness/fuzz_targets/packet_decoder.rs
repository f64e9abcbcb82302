#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pcapxray_fuzz::run("packet_decoder", data));
