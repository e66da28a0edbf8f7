//! The command line as a user sees it: `--help` and the defaults, as snapshots.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_akidb-embed");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).env_clear().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{BIN} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_documents_every_flag_and_its_variable() {
    let help = run(&["--help"]);
    assert!(help.contains("AKIDB_CONFIG"), "{help}");
    insta::assert_snapshot!("help", help);
}

#[test]
fn models_pull_help_names_the_hub_variables() {
    let help = run(&["models", "pull", "--help"]);
    assert!(
        help.contains("HF_ENDPOINT") && help.contains("HF_TOKEN"),
        "{help}"
    );
    insta::assert_snapshot!("models_pull_help", help);
}

#[test]
fn print_config_without_a_file_shows_the_defaults() {
    let text = run(&["--print-config"]);
    assert_eq!(
        app::Config::from_toml_str(&text).unwrap(),
        app::Config::default()
    );
    insta::assert_snapshot!("default_config", text);
}
