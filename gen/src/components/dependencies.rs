//! Dependencies between components: each names a port its dependency serves, and none
//! leads back to where it started.

use crate::settings::check::Problems;
use crate::settings::{Component, DnsLabel, Environment, Problem};
use crate::workload::Plans;

/// Every problem of the `depends_on` of the planned components (names that exist: checked
/// on their own before). The ports served are read from the plans, the one place that
/// knows them for every kind.
#[must_use]
pub fn check(env: &Environment, plans: &Plans<'_>) -> Vec<Problem> {
    let served = |name: &DnsLabel| -> Option<Vec<u16>> {
        plans
            .pods
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.workload.served_ports())
            .or_else(|| {
                plans
                    .databases
                    .iter()
                    .find(|d| d.name == name)
                    .map(|d| vec![d.port()])
            })
    };
    let mut out = Vec::new();
    for plan in &plans.pods {
        let name = plan.name;
        let kind = env.components.get(name).map_or("", Component::kind);
        let mut problems = Problems::under(&format!("components.{name}.{kind}"));
        for (i, dep) in plan.settings.depends_on.iter().enumerate() {
            let (Some(port), Some(ports)) = (dep.port, served(&dep.component)) else {
                continue;
            };
            if !ports.contains(&port) {
                problems.add(
                    format!("depends_on[{i}].port"),
                    format!(
                        "is {port}, but `{}` serves {}",
                        dep.component,
                        ports
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
