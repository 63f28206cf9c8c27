//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, and links with
//! `link.x`, so that a plain `cargo build --release --target
//! thumbv7m-none-eabi` suffices.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory.x");

    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(error) = fs::copy("memory.x", out.join("memory.x")) {
        println!("cargo:warning=could not copy memory.x to OUT_DIR: {error}");
    }
    println!("cargo:rustc-link-search={}", out.display());

    // Only for the board: a host build (say, `cargo check` without
    // `--target`) has no link.x.
    if env::var("TARGET").is_ok_and(|target| target.starts_with("thumb")) {
        println!("cargo:rustc-link-arg-bins=--nmagic");
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
    }
}
