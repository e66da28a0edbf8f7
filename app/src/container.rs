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

/// Arguments that make the binary read the mounted configuration file.
#[must_use]
pub fn args() -> Vec<String> {
    vec![CONFIG_FLAG.to_owned(), config_path()]
}
