//! Components shared between environments: an environment `include`s a components file
//! and sets only sizes for them. Closed and typed: a sizing field replaces the component's
//! field whole, and sizing a component that does not exist is an error.

use std::collections::btree_map::Entry;

use super::postgres::Postgres;
use super::{
    Autoscaling, Component, ComponentsFile, DnsLabel, Environment, IngressSettings, Problem,
    Resources, Sizing,
};

/// Adds the components of `included` (the file `include` names) to `env`; a name that
/// `env` defines too is a problem.
pub fn merge(env: &mut Environment, included: ComponentsFile, include: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, component) in included.components {
        match env.components.entry(name) {
            Entry::Occupied(e) => problems.push(Problem::new(
                format!("components.{}", e.key()),
                format!(
                    "is also defined in the included `{include}`; rename one, or change only its sizes under `sizing.{}`",
                    e.key()
                ),
            )),
            Entry::Vacant(e) => {
                e.insert(component);
            }
        }
    }
    problems
}

/// Applies `env.sizing` to its components.
pub fn apply_sizing(env: &mut Environment) -> Vec<Problem> {
    let mut problems = Vec::new();
    let names: Vec<String> = env.components.keys().map(ToString::to_string).collect();
    for (name, sizing) in &env.sizing {
        let Some(component) = env.components.get_mut(name) else {
            problems.push(Problem::new(
                format!("sizing.{name}"),
                format!(
                    "names no component; components: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
            continue;
        };
        if let Component::Postgres(db) = component {
            size_postgres(db, sizing, name, &mut problems);
            continue;
        }
        // The sizes every kind has, and the claim's size and class when the kind has one
        // claim (else why it cannot be sized).
        let (pod, claim) = match component {
            Component::Postgres(_) => continue,
            Component::AkidbEmbed(s) => {
                let s = s.as_mut();
                (
                    PodFields {
                        replicas: &mut s.replicas,
                        autoscaling: &mut s.autoscaling,
                        resources: &mut s.resources,
                        ingress: &mut s.ingress,
                    },
                    Ok((&mut s.model_cache.size, &mut s.model_cache.storage_class)),
                )
            }
            Component::Deployment(s) => {
                let s = s.as_mut();
                (
                    PodFields {
                        replicas: &mut s.replicas,
                        autoscaling: &mut s.autoscaling,
                        resources: &mut s.resources,
                        ingress: &mut s.ingress,
                    },
                    Err("the component is a `deployment`, which has no volume to size".to_owned()),
                )
            }
            Component::StatefulSet(s) => {
                let s = s.as_mut();
                let count = s.volume_claims.len();
                let claim = match s.volume_claims.values_mut().next() {
                    Some(c) if count == 1 => Ok((&mut c.size, &mut c.storage_class)),
                    _ => Err(format!(
                        "the stateful_set has {count} volume claims; sizing sets the size of exactly one"
                    )),
                };
                (
                    PodFields {
                        replicas: &mut s.replicas,
                        autoscaling: &mut s.autoscaling,
                        resources: &mut s.resources,
                        ingress: &mut s.ingress,
                    },
                    claim,
                )
            }
        };
        size_pod(pod, sizing, name, &mut problems);
        match claim {
            Ok((size, class)) => {
                if let Some(given) = &sizing.size {
                    *size = *given;
                }
                if let Some(given) = &sizing.storage_class {
                    *class = Some(given.clone());
                }
            }
            Err(why) => {
                for (field, given) in [
                    ("size", sizing.size.is_some()),
                    ("storage_class", sizing.storage_class.is_some()),
                ] {
                    if given {
                        problems.push(Problem::new(format!("sizing.{name}.{field}"), why.clone()));
                    }
                }
            }
        }
    }
    problems
}

/// A database's sizes: `replicas` is its instance count, `size` and `storage_class` its
/// storage; it has no autoscaler and no Ingress.
fn size_postgres(db: &mut Postgres, sizing: &Sizing, name: &DnsLabel, problems: &mut Vec<Problem>) {
    if let Some(n) = sizing.replicas {
        db.instances = n;
    }
    if let Some(r) = &sizing.resources {
        db.resources = Some(r.clone());
    }
    if let Some(size) = sizing.size {
        db.storage.size = size;
    }
    if let Some(class) = &sizing.storage_class {
        db.storage.storage_class = Some(class.clone());
    }
    for (field, given) in [
        ("autoscaling", sizing.autoscaling.is_some()),
        ("hosts", sizing.hosts.is_some()),
    ] {
        if given {
            problems.push(Problem::new(
                format!("sizing.{name}.{field}"),
                "the component is a `postgres` database, which has none; size it with replicas (its instances), resources, size and storage_class",
            ));
        }
    }
}

/// The sizes every pod-owning kind has, to overwrite.
struct PodFields<'a> {
    replicas: &'a mut Option<u32>,
    autoscaling: &'a mut Option<Autoscaling>,
    resources: &'a mut Resources,
    ingress: &'a mut Option<IngressSettings>,
}

/// Overwrites each size `sizing` gives, whole.
fn size_pod(pod: PodFields<'_>, sizing: &Sizing, name: &DnsLabel, problems: &mut Vec<Problem>) {
    if let Some(r) = sizing.replicas {
        *pod.replicas = Some(r);
    }
    if let Some(a) = &sizing.autoscaling {
        *pod.autoscaling = Some(a.clone());
    }
    if let Some(r) = &sizing.resources {
        *pod.resources = r.clone();
    }
    if let Some(hosts) = &sizing.hosts {
        match pod.ingress {
            Some(ingress) => ingress.hosts.clone_from(hosts),
            None => problems.push(Problem::new(
                format!("sizing.{name}.hosts"),
                "the component has no `ingress` to set hosts on",
            )),
        }
    }
}
