//! `translator.toml` as an operator may write it: TOML parsing and every shape check. A file is
//! either a configuration in which every collection has exactly one visibility, or an error
//! naming the file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use owp_collections::Config;

fuzz_target!(|data: &[u8]| {
    // The loader reads the file as UTF-8 and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(Path::new("translator.toml"), text) {
        Ok(config) => {
            assert!(!config.collections.is_empty());
            for name in config.collections.keys() {
                assert!(config.visibility_of(name).is_some(), "{name} has no visibility");
            }
        }
        Err(err) => assert!(err.to_string().starts_with("translator.toml: ")),
    }
});
