//! Names, labels, namespaces and a Deployment's own selector.

use std::collections::BTreeMap;

use super::super::index::{display, selector_matches};
use super::{Context, Findings, Index};
use crate::settings::{DnsLabel, DnsSubdomain};

/// Kinds whose names must be DNS-1123 labels rather than subdomains.
const LABEL_NAMED: [&str; 2] = ["Namespace", "Service"];

pub(super) fn check(index: &Index<'_>, ctx: &Context, f: &mut Findings<'_>) {
    disjoint_deployments(index, f);
    for o in index.objects {
        let meta = o.metadata();
        let who = display(o.kind(), meta.name.as_ref());
        let name = meta.name.clone().unwrap_or_default();
        let valid = if LABEL_NAMED.contains(&o.kind()) {
            DnsLabel::new(name).err()
        } else {
            DnsSubdomain::new(name).err()
        };
        if let Some(e) = valid {
            f.add("valid-names", who.clone(), "metadata.name", e);
        }
        labels(&who, "metadata.labels", meta.labels.as_ref(), f);

        if o.kind() == "Namespace" {
            if meta.name.as_deref() != Some(ctx.namespace.as_str()) {
                f.add(
                    "single-namespace",
                    who.clone(),
                    "metadata.name",
                    format!("the environment's namespace is `{}`", ctx.namespace),
                );
            }
        } else if meta.namespace.as_deref() != Some(ctx.namespace.as_str()) {
            f.add(
                "single-namespace",
                who.clone(),
                "metadata.namespace",
                format!(
                    "is {:?}; every object must live in `{}`",
                    meta.namespace.as_deref().unwrap_or(""),
                    ctx.namespace
                ),
            );
        }
    }

    for d in index.pod_owners() {
        let who = d.who();
        let template_labels = d.labels();
        labels(
            &who,
            "spec.template.metadata.labels",
            Some(template_labels),
            f,
        );
        if !selector_matches(d.selector, template_labels)
            || super::super::index::selector_is_empty(d.selector)
        {
            f.add(
                "selector-matches-template",
                who,
                "spec.selector",
                format!(
                    "{:?} does not select the template labels {template_labels:?}",
                    d.selector.match_labels
                ),
            );
        }
    }
}

fn labels(who: &str, field: &str, labels: Option<&BTreeMap<String, String>>, f: &mut Findings<'_>) {
    for (k, v) in labels.into_iter().flatten() {
        if let Err(e) = label_key(k) {
            f.add(
                "valid-names",
                who.to_owned(),
                format!("{field}.{k}"),
                format!("label key {e}"),
            );
        }
        if let Err(e) = label_value(v) {
            f.add(
                "valid-names",
                who.to_owned(),
                format!("{field}.{k}"),
                format!("label value `{v}` {e}"),
            );
        }
    }
}

fn name_part(s: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if s.is_empty() || s.len() > 63 {
        return Err(format!("must be 1 to 63 characters, not {}", s.len()));
    }
    if !s.chars().all(ok_char)
        || !s.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !s.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("may hold only letters, digits, `-`, `_` and `.`, and must start and end with a letter or digit".into());
    }
    Ok(())
}

fn label_key(k: &str) -> Result<(), String> {
    let (prefix, name) = k.rsplit_once('/').map_or((None, k), |(p, n)| (Some(p), n));
    if let Some(p) = prefix {
        DnsSubdomain::new(p).map_err(|e| format!("`{k}` has an invalid prefix: {e}"))?;
    }
    name_part(name).map_err(|e| format!("`{k}` {e}"))
}

fn label_value(v: &str) -> Result<(), String> {
    if v.is_empty() { Ok(()) } else { name_part(v) }
}

/// No pod owner's selector takes in another's pods: both controllers would count them as
/// their own, and each would scale the other's pods away.
fn disjoint_deployments(index: &Index<'_>, f: &mut Findings<'_>) {
    for a in index.pod_owners() {
        for b in index.pod_owners_selected_by(a.selector) {
            if std::ptr::eq(a.metadata, b.metadata) {
                continue;
            }
            f.add(
                "deployment-selectors-disjoint",
                a.who(),
                "spec.selector",
                format!(
                    "also selects the pods of {}; give each its own label in its selector (blue-green colours carry `{}`)",
                    b.who(),
                    crate::workload::COLOR_LABEL
                ),
            );
        }
    }
}
