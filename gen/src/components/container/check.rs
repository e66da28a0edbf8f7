//! What a `deployment` component must say for its pod to run: a pinned image, a real port,
//! probe paths, folders that are absolute and distinct, and a user that is not root.

use std::path::Path;

use crate::settings::check::Problems;
use crate::settings::container::{ConfigFilesSettings, ContainerDeployment, ProbeCheck};
use crate::settings::{AccessMode, Component, Environment, Problem};

use super::TMP_DIR;

/// Every problem of the `deployment` components of `env`.
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, component) in &env.components {
        let Component::Deployment(settings) = component else {
            continue;
        };
        let mut problems = Problems::under(&format!("components.{name}.deployment"));
        check_one(settings, &mut problems);
        check_volumes(env, settings, &mut problems);
        out.extend(problems.list);
    }
    out
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
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
        if !valid {
            out.add(
                format!("config_files.files.{name}"),
                "is not a valid ConfigMap key: letters, digits, `-`, `_` and `.`",
            );
        }
    }
}

fn check_volumes(env: &Environment, s: &ContainerDeployment, out: &mut Problems) {
    let mut taken: Vec<&str> = vec![TMP_DIR];
    taken.extend(s.writable_dirs.iter().map(String::as_str));
    taken.extend(s.config_files.iter().map(|c| c.mount_dir.as_str()));
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
        let p = Path::new(&m.path);
        if !p.is_absolute() || p == Path::new("/") {
            out.add(
                format!("{key}.path"),
                format!("is `{}`; give an absolute folder other than `/`", m.path),
            );
        } else if let Some(other) = taken
            .iter()
            .find(|d| p.starts_with(d) || Path::new(d).starts_with(p))
        {
            out.add(
                format!("{key}.path"),
                format!(
                    "`{}` overlaps `{other}`, which the pod already mounts",
                    m.path
                ),
            );
        }
        taken.push(&m.path);
    }
}
