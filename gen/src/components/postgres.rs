//! The `postgres` kind's checks: names PostgreSQL and CloudNativePG accept, parameters the
//! operator lets a user set, and components that read the database's credentials reading
//! keys the operator writes and being let through to it.

use crate::settings::check::Problems;
use crate::settings::postgres::{APP_SECRET_KEYS, Postgres};
use crate::settings::{Component, Environment, Problem};

/// Parameters CloudNativePG sets itself and refuses in `postgresql.parameters`.
const FIXED_PARAMETERS: [&str; 20] = [
    "archive_command",
    "archive_mode",
    "cluster_name",
    "config_file",
    "data_directory",
    "hba_file",
    "hot_standby",
    "ident_file",
    "listen_addresses",
    "log_destination",
    "log_directory",
    "logging_collector",
    "port",
    "primary_conninfo",
    "restore_command",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_key_file",
    "unix_socket_directories",
];

/// Every problem of the `postgres` components of `env`, and of the components that read
/// their credentials.
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, component) in &env.components {
        if let Component::Postgres(db) = component {
            let mut problems = Problems::under(&format!("components.{name}.postgres"));
            check_one(name.as_str(), db, &mut problems);
            out.extend(problems.list);
        }
    }
    out.extend(check_readers(env));
    out
}

fn check_one(name: &str, db: &Postgres, out: &mut Problems) {
    if db.instances == 0 {
        out.add(
            "instances",
            "is 0; a cluster runs at least one instance (its primary)",
        );
    }
    for (key, value) in [
        ("database", db.database_name(name)),
        ("owner", db.owner_name(name)),
    ] {
        if let Err(why) = identifier(&value) {
            out.add(key, format!("`{value}` {why}"));
        }
    }
    if db.owner_name(name) == "postgres" {
        out.add(
            "owner",
            "is `postgres`, the superuser; the application owns its database as a role of its own",
        );
    }
    for key in db.parameters.keys() {
        if FIXED_PARAMETERS.contains(&key.as_str()) {
            out.add(
                format!("parameters.{key}"),
                "is set by CloudNativePG itself, which refuses it here",
            );
        } else if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        {
            out.add(
                format!("parameters.{key}"),
                "is not a PostgreSQL parameter name (lowercase letters, digits, `_` and `.`)",
            );
        }
    }
}

/// Whether `name` is a plain PostgreSQL identifier (no quoting needed).
fn identifier(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(())
    } else {
        Err(
            "is not a PostgreSQL name: up to 63 lowercase letters, digits and `_`, not starting with a digit",
        )
    }
}

/// A component that reads a database's generated `<name>-app` Secret reads keys the
/// operator writes, and lists the database in `connects_to`, or its NetworkPolicy would
/// keep it from the credentials' database.
fn check_readers(env: &Environment) -> Vec<Problem> {
    let generated: Vec<(String, &str)> = env
        .components
        .iter()
        .filter_map(|(name, c)| match c {
            Component::Postgres(db) if db.credentials.is_none() => {
                Some((db.app_secret(name.as_str()), name.as_str()))
            }
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (name, component) in &env.components {
        let Some(pod) = component.pod() else { continue };
        let mut problems = Problems::under(&format!("components.{name}.{}", component.kind()));
        for (i, secret) in pod.secrets.iter().enumerate() {
            let Some((_, db)) = generated
                .iter()
                .find(|(secret_name, _)| secret_name == secret.name.as_str())
            else {
                continue;
            };
            for (var, key) in &secret.env {
                if !APP_SECRET_KEYS.contains(&key.as_str()) {
                    problems.add(
                        format!("secrets[{i}].env.{var}"),
                        format!(
                            "reads key `{key}` of `{}`, which CloudNativePG does not write; it writes {}",
                            secret.name,
                            APP_SECRET_KEYS.join(", ")
                        ),
                    );
                }
            }
            let reaches = pod.connects_to.iter().any(|c| c.as_str() == *db)
                || pod.depends_on.iter().any(|d| d.component.as_str() == *db);
            if !reaches {
                problems.add(
                    format!("secrets[{i}]"),
                    format!(
                        "reads the credentials of database `{db}` but neither `depends_on` nor `connects_to` lists it, so its NetworkPolicy would block the connection; add `{{component: {db}, port: 5432}}` to depends_on"
                    ),
                );
            }
        }
        out.extend(problems.list);
    }
    out
}
