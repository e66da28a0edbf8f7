//! The statically linked `gen` that `make gen-static` builds (the binary to copy to other
//! machines, and the one `make bench-gen` times): it must be really static (no program
//! interpreter, no dynamic section) and print exactly what the default build prints.
//!
//! `make test` builds it first; without it the tests fail saying how to get it.

use std::path::PathBuf;
use std::process::{Command, Output};

use e2e::root;

/// ELF program header types (the ELF specification's `PT_*` values).
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{rustc} -vV`: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("`rustc -vV` names the host")
        .to_owned()
}

fn static_gen() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let path = target.join(host_triple()).join("release").join("gen");
    assert!(
        path.is_file(),
        "{} is missing: run `make gen-static` (`make test` runs it first)",
        path.display()
    );
    path
}

/// The `p_type` of every program header of a 64-bit little-endian ELF file.
fn program_header_types(elf: &[u8]) -> Vec<u32> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    assert_eq!(elf[5], 1, "not a little-endian ELF file");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let offset = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes"));
    let offset = usize::try_from(offset).expect("program headers within the file");
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).map(|i| u32_at(offset + i * size)).collect()
}

#[test]
fn the_static_gen_needs_no_loader_and_no_shared_library() {
    let path = static_gen();
    let elf = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let types = program_header_types(&elf);
    assert!(
        !types.is_empty(),
        "no program headers in {}",
        path.display()
    );
    assert!(
        !types.contains(&PT_INTERP),
        "{} asks for a program interpreter: it is not static",
        path.display()
    );
    assert!(
        !types.contains(&PT_DYNAMIC),
        "{} has a dynamic section: it still needs shared libraries",
        path.display()
    );

    // This test program is linked the default way, dynamically: the check above tells
    // the two apart.
    let me = std::env::current_exe().expect("the test's own path");
    let me = std::fs::read(&me).expect("the test's own binary");
    assert!(program_header_types(&me).contains(&PT_INTERP));
}

/// Runs the static gen in the repository root.
fn run(args: &[&str]) -> Output {
    Command::new(static_gen())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run the static gen")
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_static_gen_prints_what_is_committed_and_finds_everything_fresh() {
    let out = run(&["prod"]);
    assert_success(&out);
    let committed = std::fs::read(root().join("out/prod.yaml")).expect("out/prod.yaml");
    assert!(
        out.stdout == committed,
        "the static gen's `prod` differs from out/prod.yaml"
    );
    // Every environment and example, rendered and compared with the committed files.
    assert_success(&run(&["write", "--check"]));
}

#[test]
fn the_static_gen_refuses_bad_input_on_stderr_with_a_failing_status() {
    let out = run(&["no-such-environment"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown environment `no-such-environment`"),
        "{stderr}"
    );
}
