//! Resources, image pins and the container security baseline.

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use super::super::index::quantity_value;
use super::{Findings, Index};

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    for d in index.pod_owners() {
        let who = d.who();
        let pod_sc = d.pod_spec().and_then(|p| p.security_context.as_ref());
        for (field, c) in d.containers_at() {
            resources(&who, &field, c, f);
            image(&who, &field, c, f);
            security(&who, &field, c, pod_sc, f);
        }
    }
}

fn resources(who: &str, field: &str, c: &Container, f: &mut Findings<'_>) {
    let r = c.resources.clone().unwrap_or_default();
    let requests = r.requests.unwrap_or_default();
    let limits = r.limits.unwrap_or_default();
    for res in ["cpu", "memory"] {
        match (requests.get(res), limits.get(res)) {
            (Some(req), Some(lim)) => {
                if let (Some(a), Some(b)) = (quantity_value(&req.0), quantity_value(&lim.0))
                    && a > b
                {
                    f.add(
                        "requests-within-limits",
                        who.to_owned(),
                        format!("{field}.resources.requests.{res}"),
                        format!("{} exceeds the limit {}", req.0, lim.0),
                    );
                }
            }
            (None, _) => f.add(
                "requests-within-limits",
                who.to_owned(),
                format!("{field}.resources.requests.{res}"),
                "is not set",
            ),
            (_, None) => f.add(
                "requests-within-limits",
                who.to_owned(),
                format!("{field}.resources.limits.{res}"),
                "is not set",
            ),
        }
    }
}

fn image(who: &str, field: &str, c: &Container, f: &mut Findings<'_>) {
    let image = c.image.clone().unwrap_or_default();
    if image.contains("@sha256:") {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or_default();
    match last.split_once(':') {
        Some((_, "latest")) => f.add(
            "image-pinned",
            who.to_owned(),
            format!("{field}.image"),
            format!("`{image}` floats on `latest`"),
        ),
        None => f.add(
            "image-pinned",
            who.to_owned(),
            format!("{field}.image"),
            format!("`{image}` has no tag or digest"),
        ),
        Some(_) => {}
    }
}

fn security(
    who: &str,
    field: &str,
    c: &Container,
    pod: Option<&PodSecurityContext>,
    f: &mut Findings<'_>,
) {
    let sc = c.security_context.clone().unwrap_or_default();
    let non_root = sc.run_as_non_root.or(pod.and_then(|p| p.run_as_non_root)) == Some(true);
    let uid = sc.run_as_user.or(pod.and_then(|p| p.run_as_user));
    if !non_root || uid == Some(0) {
        f.add(
            "pod-non-root",
            who.to_owned(),
            format!("{field}.securityContext.runAsNonRoot"),
            format!(
                "container `{}` may run as root (runAsNonRoot {:?}, runAsUser {uid:?})",
                c.name, sc.run_as_non_root
            ),
        );
    }
    let drops_all = sc
        .capabilities
        .as_ref()
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|x| x == "ALL"));
    if sc.allow_privilege_escalation != Some(false) || sc.privileged == Some(true) || !drops_all {
        f.add(
            "pod-no-privilege-escalation",
            who.to_owned(),
            format!("{field}.securityContext"),
            format!("container `{}` must set allowPrivilegeEscalation: false, not be privileged, and drop ALL capabilities", c.name),
        );
    }
    if sc.read_only_root_filesystem != Some(true) {
        f.add(
            "pod-read-only-root",
            who.to_owned(),
            format!("{field}.securityContext.readOnlyRootFilesystem"),
            format!("container `{}` can write to its image", c.name),
        );
    }
}
