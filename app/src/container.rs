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

/// The image's layout as `(KEY, value)` pairs, for the image build
/// (`scripts/build-image.sh` reads them from `akidb-embed --print-image-layout`), so the
/// image carries this contract's paths, user and ports rather than copies of them.
///
/// `config` supplies the ports and the model folder: the server's defaults, which are
/// what the generated manifests expose.
#[must_use]
pub fn image_layout(config: &crate::Config) -> Vec<(&'static str, String)> {
    let mut ports = vec![config.server.port.to_string()];
    if config.metrics_on_separate_port() {
        ports.push(config.observability.metrics_port.to_string());
    }
    vec![
        ("BINARY_PATH", BINARY_PATH.to_owned()),
        ("RUN_AS_USER", RUN_AS_USER.to_string()),
        ("RUN_AS_GROUP", RUN_AS_GROUP.to_string()),
        ("CONFIG_DIR", CONFIG_DIR.to_owned()),
        ("API_KEYS_DIR", API_KEYS_DIR.to_owned()),
        (
            "MODEL_DIR",
            config.embedding.model_dir.to_string_lossy().into_owned(),
        ),
        ("TMP_DIR", TMP_DIR.to_owned()),
        ("PORTS", ports.join(" ")),
        ("VERSION", crate::VERSION.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_layout_is_the_contract() {
        let layout = image_layout(&crate::Config::default());
        let get = |k: &str| {
            layout
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {k}"))
        };
        assert_eq!(get("BINARY_PATH"), BINARY_PATH);
        assert_eq!(get("RUN_AS_USER"), "1000");
        assert_eq!(get("MODEL_DIR"), "/models");
        assert_eq!(get("PORTS"), "8080 9090");
        // One line per key for the shell that reads them: no newline, no '=' in a key.
        for (k, v) in &layout {
            assert!(!k.contains('=') && !v.contains('\n'), "{k}={v}");
        }
    }

    #[test]
    fn one_port_when_metrics_share_the_listener() {
        let mut config = crate::Config::default();
        config.observability.metrics_port = config.server.port;
        let layout = image_layout(&config);
        assert!(layout.contains(&("PORTS", "8080".to_owned())));
    }
}
