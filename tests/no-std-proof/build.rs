//! Link arguments for the proof binary, so that a plain
//! `cargo build --manifest-path tests/no-std-proof/Cargo.toml` suffices.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");

    // `_start` in src/main.rs is x86-64 assembly for a Linux process entry.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch != "x86_64" || os != "linux" {
        println!(
            "cargo:warning=the no_std proof is written for x86_64 Linux, not {arch} {os}; \
             the link will likely fail"
        );
    }

    // No crt1.o/crti.o: the binary brings its own `_start`.
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    // rustc links with -nodefaultlibs; libc provides memcpy, memset, memcmp
    // (which the compiler emits calls to), and write, exit, abort.
    println!("cargo:rustc-link-arg-bins=-lc");
}
