//! Dependencies between components: each names a port its dependency serves, and none
//! leads back to where it started.

use crate::settings::check::Problems;
use crate::settings::postgres::POSTGRES_PORT;
use crate::settings::{Component, DnsLabel, Environment, Problem};

use super::akidb_embed;

/// Every problem of the `depends_on` of `env`'s components (names that exist: checked on
/// their own before).
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, component) in &env.components {
        let Some(pod) = component.pod() else { continue };
        let mut problems = Problems::under(&format!("components.{name}.{}", component.kind()));
        for (i, dep) in pod.depends_on.iter().enumerate() {
            let Some(port) = dep.port else { continue };
            let Some(served) = served_ports(env, &dep.component) else {
                continue;
            };
            if !served.contains(&port) {
                problems.add(
                    format!("depends_on[{i}].port"),
                    format!(
                        "is {port}, but `{}` serves {}",
                        dep.component,
                        served
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let Some((i, path)) = cycle(env, name) {
            problems.add(
                format!("depends_on[{i}]"),
                format!(
                    "closes a cycle ({}); a component cannot need what needs it",
                    path.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            );
        }
        out.extend(problems.list);
    }
    out
}

/// The ports component `name` serves to others, when it exists.
fn served_ports(env: &Environment, name: &DnsLabel) -> Option<Vec<u16>> {
    Some(match env.components.get(name)? {
        Component::AkidbEmbed(s) => vec![akidb_embed::plan(env, name, s).workload.api_port],
        Component::Deployment(s) => std::iter::once(s.port)
            .chain(s.ports.values().copied())
            .collect(),
        Component::StatefulSet(s) => std::iter::once(s.port)
            .chain(s.ports.values().copied())
            .collect(),
        Component::Postgres(_) => vec![POSTGRES_PORT],
    })
}

/// The first dependency of `start` from which a path of dependencies leads back to it,
/// with that path.
fn cycle(env: &Environment, start: &DnsLabel) -> Option<(usize, Vec<DnsLabel>)> {
    let deps = |name: &DnsLabel| -> Vec<DnsLabel> {
        env.components
            .get(name)
            .and_then(Component::pod)
            .map(|p| p.depends_on.iter().map(|d| d.component.clone()).collect())
            .unwrap_or_default()
    };
    for (i, first) in deps(start).into_iter().enumerate() {
        // Depth-first from `first`, remembering the path; every name is entered once.
        let mut stack = vec![vec![start.clone(), first]];
        let mut seen = Vec::new();
        while let Some(path) = stack.pop() {
            let last = path.last().cloned()?;
            if &last == start {
                return Some((i, path));
            }
            if seen.contains(&last) {
                continue;
            }
            seen.push(last.clone());
            for next in deps(&last) {
                let mut longer = path.clone();
                longer.push(next);
                stack.push(longer);
            }
        }
    }
    None
}
