//! What a `deployment` or `stateful_set` component must say for its pod to run: a pinned image, a real port,
//! probe paths, folders that are absolute and distinct, and a user that is not root.

use std::path::Path;

use crate::settings::check::Problems;
use crate::settings::container::{
    AppProtocol, ConfigFilesSettings, ContainerDeployment, ContainerStatefulSet, ProbeCheck,
};
use crate::settings::{AccessMode, Component, Environment, Problem};

use super::TMP_DIR;
use crate::workload::{HTTP_PORT_NAME, METRICS_PORT_NAME, volume_names};

/// Every problem of the `deployment` and `stateful_set` components of `env`.
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, component) in &env.components {
        let mut problems = Problems::under(&format!("components.{name}.{}", component.kind()));
        match component {
            Component::Deployment(settings) => {
                check_one(settings, &mut problems);
                check_volumes(env, settings, &mut problems);
            }
            Component::StatefulSet(settings) => {
                let container = settings.container();
                check_one(&container, &mut problems);
                let taken = check_volumes(env, &container, &mut problems);
                check_claims(settings, taken, &mut problems);
            }
            Component::AkidbEmbed(_) | Component::Postgres(_) => {}
        }
        out.extend(problems.list);
    }
    out
}

/// A StatefulSet's own claims: names that are not the pod's other volumes', absolute
/// folders apart from every other mount, and a mode a fresh, empty claim can be used in.
fn check_claims(s: &ContainerStatefulSet, mut taken: Vec<String>, out: &mut Problems) {
    for (name, claim) in &s.volume_claims {
        let key = format!("volume_claims.{name}");
        if volume_names::is_reserved(name.as_str()) {
            out.add(
                key.clone(),
                format!(
                    "`{name}` is a name the pod's own volumes take (`{}`, `{}` and names starting {}); choose another",
                    volume_names::CONFIG,
                    volume_names::SCRATCH,
                    volume_names::PREFIXES
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        check_mount_path(&format!("{key}.path"), &claim.path, &taken, out);
        if claim.access_mode == AccessMode::ReadOnlyMany {
            out.add(
                format!("{key}.access_mode"),
                "is ReadOnlyMany, but each pod's claim starts empty and nothing could write it; use ReadWriteOnce",
            );
        }
        taken.push(claim.path.clone());
    }
}

fn check_one(s: &ContainerDeployment, out: &mut Problems) {
    if s.image.tag.is_none() && s.image.digest.is_none() {
        out.add(
            "image",
            "names no tag and no digest; pin one (e.g. `tag: 1.27.3`) so every rollout runs the same image",
        );
    }
    if s.port == 0 {
        out.add(
            "port",
            "is 0; give the port the container listens on (1 to 65535)",
        );
    }
    check_ports(s, out);
    check_env(s, out);
    if s.app_protocol == AppProtocol::Tcp && s.ingress.is_some() {
        out.add(
            "ingress",
            "routes HTTP, but app_protocol says the port speaks another protocol over TCP; remove the Ingress or set app_protocol",
        );
    }
    for (key, check) in [
        ("health.liveness", Some(&s.health.liveness)),
        ("health.readiness", Some(&s.health.readiness)),
        ("health.startup", s.health.startup.as_ref()),
    ] {
        match check {
            Some(ProbeCheck::Http(p)) if !p.starts_with('/') => {
                out.add(
                    format!("{key}.http"),
                    format!("is `{p}`; an HTTP path starts with `/`"),
                );
            }
            Some(ProbeCheck::Exec(command)) if command.first().is_none_or(String::is_empty) => {
                out.add(format!("{key}.exec"), "is empty; name the program to run");
            }
            _ => {}
        }
    }
    for (i, dir) in s.writable_dirs.iter().enumerate() {
        let key = format!("writable_dirs[{i}]");
        let p = Path::new(dir);
        if !p.is_absolute() || p == Path::new("/") {
            out.add(
                key,
                format!("is `{dir}`; give an absolute folder other than `/`"),
            );
        } else if p == Path::new(TMP_DIR) {
            out.add(
                key,
                format!("is `{TMP_DIR}`, which is always writable; remove it"),
            );
        } else if s.writable_dirs[..i]
            .iter()
            .any(|d| Path::new(d).starts_with(p) || p.starts_with(d))
        {
            out.add(key, format!("`{dir}` overlaps an earlier writable folder"));
        }
    }
    if let Some(c) = &s.config_files {
        check_config_files(c, &s.writable_dirs, out);
    }
    for (key, id) in [
        ("run_as.user", s.run_as.user),
        ("run_as.group", s.run_as.group),
    ] {
        if id < 1 {
            out.add(
                key,
                format!("is {id}; pods run as a non-root user and group (1 or more)"),
            );
        }
    }
}

/// Further ports: names Kubernetes accepts for a port (IANA service names) other than the
/// ones the generator gives, and numbers no other port of the pod has.
fn check_ports(s: &ContainerDeployment, out: &mut Problems) {
    let mut numbers = vec![s.port];
    for (name, number) in &s.ports {
        let key = format!("ports.{name}");
        if let Err(why) = port_name(name) {
            out.add(key.clone(), why);
        } else if name == HTTP_PORT_NAME || name == METRICS_PORT_NAME {
            out.add(
                key.clone(),
                format!("`{name}` is the name of the API or metrics port; choose another"),
            );
        }
        if *number == 0 {
            out.add(
                key,
                "is 0; give the port the container listens on (1 to 65535)",
            );
        } else if numbers.contains(number) {
            out.add(
                key,
                format!("{number} is already another port of the container"),
            );
        } else {
            numbers.push(*number);
        }
    }
}

/// Each variable is set once, whichever of `env`, `config_maps` and `secrets` sets it; and
/// ConfigMap keys are keys a ConfigMap can have.
fn check_env(s: &ContainerDeployment, out: &mut Problems) {
    let mut seen: Vec<(String, String)> = s
        .env
        .keys()
        .map(|var| (var.to_string(), format!("env.{var}")))
        .collect();
    let mut set = |var: &str, key: String, out: &mut Problems| {
        if let Some((_, first)) = seen.iter().find(|(v, _)| v == var) {
            out.add(key, format!("sets `{var}`, which `{first}` sets already"));
        } else {
            seen.push((var.to_owned(), key));
        }
    };
    for (i, cm) in s.config_maps.iter().enumerate() {
        for (var, key) in &cm.env {
            let at = format!("config_maps[{i}].env.{var}");
            if !config_map_key(key) {
                out.add(
                    at.clone(),
                    format!("`{key}` is not a ConfigMap key: letters, digits, `-`, `_` and `.`"),
                );
            }
            set(var.as_str(), at, out);
        }
        if cm.env.is_empty() && !cm.all_keys {
            out.add(
                format!("config_maps[{i}]"),
                "reads no key; list some under `env` or set `all_keys: true`",
            );
        }
    }
    for (i, secret) in s.secrets.iter().enumerate() {
        for var in secret.env.keys() {
            set(var.as_str(), format!("secrets[{i}].env.{var}"), out);
        }
    }
}

/// Whether `key` is a valid ConfigMap key.
fn config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
}

/// Whether `name` is a valid port name: 1 to 15 lowercase letters, digits and `-`, with
/// at least one letter, no `-` at either end and no `--`.
fn port_name(name: &str) -> Result<(), String> {
    let valid = (1..=15).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a port name: 1 to 15 lowercase letters, digits and `-`, with a letter, no `-` at either end and no `--`"
        ))
    }
}

fn check_config_files(c: &ConfigFilesSettings, writable: &[String], out: &mut Problems) {
    let dir = Path::new(&c.mount_dir);
    if !dir.is_absolute() || dir == Path::new("/") {
        out.add(
            "config_files.mount_dir",
            format!(
                "is `{}`; give an absolute folder other than `/`",
                c.mount_dir
            ),
        );
    } else if dir.starts_with(TMP_DIR)
        || writable
            .iter()
            .any(|w| dir.starts_with(w) || Path::new(w).starts_with(dir))
    {
        out.add(
            "config_files.mount_dir",
            format!("`{}` overlaps a writable folder", c.mount_dir),
        );
    }
    if c.files.is_empty() {
        out.add("config_files.files", "is empty; list at least one file");
    }
    for name in c.files.keys() {
        if !config_map_key(name) {
            out.add(
                format!("config_files.files.{name}"),
                "is not a valid ConfigMap key: letters, digits, `-`, `_` and `.`",
            );
        }
    }
}

/// Checks the shared volumes `s` mounts; returns every folder the pod mounts.
fn check_volumes(env: &Environment, s: &ContainerDeployment, out: &mut Problems) -> Vec<String> {
    let mut taken: Vec<String> = vec![TMP_DIR.to_owned()];
    taken.extend(s.writable_dirs.iter().cloned());
    taken.extend(s.config_files.iter().map(|c| c.mount_dir.clone()));
    for (i, m) in s.volumes.iter().enumerate() {
        let key = format!("volumes[{i}]");
        match env.volumes.get(&m.volume) {
            None => {
                let names: Vec<String> = env.volumes.keys().map(ToString::to_string).collect();
                out.add(
                    format!("{key}.volume"),
                    format!(
                        "`{}` is not one of the application's volumes ({})",
                        m.volume,
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
            Some(v) if v.access_mode == AccessMode::ReadOnlyMany && !m.read_only => {
                out.add(
                    format!("{key}.read_only"),
                    format!(
                        "is false, but volume `{}` is ReadOnlyMany; set read_only: true or give the volume ReadWriteMany",
                        m.volume
                    ),
                );
            }
            Some(_) => {}
        }
        check_mount_path(&format!("{key}.path"), &m.path, &taken, out);
        taken.push(m.path.clone());
    }
    taken.extend(s.secrets.iter().filter_map(|x| x.mount_path.clone()));
    taken
}

/// A volume's folder: absolute, not `/`, and apart from every folder in `taken`.
fn check_mount_path(key: &str, path: &str, taken: &[String], out: &mut Problems) {
    let p = Path::new(path);
    if !p.is_absolute() || p == Path::new("/") {
        out.add(
            key,
            format!("is `{path}`; give an absolute folder other than `/`"),
        );
    } else if let Some(other) = taken
        .iter()
        .find(|d| p.starts_with(d) || Path::new(d).starts_with(p))
    {
        out.add(
            key,
            format!("`{path}` overlaps `{other}`, which the pod already mounts"),
        );
    }
}
