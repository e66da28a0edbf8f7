//! Where things live inside the container image (`app/Dockerfile` follows these paths).

/// Name of the server binary.
pub const BINARY_NAME: &str = "akidb-embed";
/// Absolute path of the server binary in the image; the Deployment's `command`.
pub const BINARY_PATH: &str = "/usr/local/bin/akidb-embed";
/// Command-line flag that names the configuration file.
pub const CONFIG_FLAG: &str = "--config";
/// Directory the ConfigMap is mounted on.
pub const CONFIG_DIR: &str = "/etc/akidb";
/// File name of the configuration inside [`CONFIG_DIR`] and the ConfigMap key.
pub const CONFIG_FILE: &str = "config.toml";
/// Directory the API-key Secret is mounted on. Kept apart from [`CONFIG_DIR`]: a mount
/// inside the read-only ConfigMap volume would need a mount point the volume lacks.
pub const API_KEYS_DIR: &str = "/var/run/secrets/akidb";
/// File name of the keys inside [`API_KEYS_DIR`], and the Secret's key.
pub const API_KEYS_FILE: &str = "api-keys";
/// Subcommand that fetches and verifies the configured models (the init container's
/// command, with [`args`] after it).
pub const PULL_SUBCOMMAND: [&str; 2] = ["models", "pull"];
/// Writable scratch directory (the root filesystem is read-only).
pub const TMP_DIR: &str = "/tmp";
/// Numeric user the image runs as (non-root).
pub const RUN_AS_USER: i64 = 1000;
/// Numeric group the image runs as.
pub const RUN_AS_GROUP: i64 = 1000;

/// Full path of the configuration file inside the container.
#[must_use]
pub fn config_path() -> String {
    format!("{CONFIG_DIR}/{CONFIG_FILE}")
}

/// Full path of the API-key file inside the container (the default `auth.keys_file`).
#[must_use]
pub fn api_keys_path() -> String {
    format!("{API_KEYS_DIR}/{API_KEYS_FILE}")
}

/// Arguments of the init container: pull the configured models into `embedding.model_dir`.
#[must_use]
pub fn pull_args() -> Vec<String> {
    let mut v: Vec<String> = PULL_SUBCOMMAND.map(str::to_owned).to_vec();
    v.extend(args());
    v
}

/// Arguments that make the binary read the mounted configuration file.
#[must_use]
pub fn args() -> Vec<String> {
    vec![CONFIG_FLAG.to_owned(), config_path()]
}
