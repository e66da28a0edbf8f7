//! `depends_on`: a dependency opens one port (or all) in both NetworkPolicies and nothing
//! else, orders Argo CD's sync waves, and is checked where it is written (a port the
//! dependency does not serve, a cycle); the rule `dependency-admitted` catches a path let
//! out but not let in.

mod common;

use std::collections::BTreeMap;

use akidb_gen::lint::{self, Context, Index};
use akidb_gen::objects::{Object, SYNC_WAVE_ANNOTATION};
use akidb_gen::pipeline::{self, load_str};
use k8s_openapi::api::networking::v1::{NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const APP: &str = r#"
namespace: shop
sync_waves: true
components:
  web:
    deployment:
      image: {repository: ghcr.io/example/web, tag: "1"}
      port: 3000
      health: {liveness: tcp, readiness: {http: /}}
      depends_on: [{component: api}]
  api:
    deployment:
      image: {repository: ghcr.io/example/api, tag: "1"}
      port: 8000
      ports: {admin: 9000}
      health: {liveness: tcp, readiness: {http: /ready}}
      depends_on:
        - {component: search, port: 7700}
        - {component: db, port: 5432}
      secrets: [{name: db-app, env: {DATABASE_URL: uri}}]
  search:
    stateful_set:
      image: {repository: getmeili/meilisearch, tag: v1.8.0}
      port: 7700
      ports: {stats: 7701}
      health: {liveness: tcp, readiness: {http: /health}}
      volume_claims: {data: {path: /meili_data, size: 1Gi}}
  db:
    postgres:
      storage: {size: 1Gi}
"#;

fn render(yaml: &str) -> Vec<Object> {
    let env = load_str(yaml, "shop.yaml").unwrap_or_else(|e| panic!("{e}"));
    pipeline::objects(&env, "shop")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn policy<'a>(objects: &'a [Object], name: &str) -> &'a NetworkPolicySpec {
    Index::new(objects)
        .network_policies()
        .find(|p| p.metadata.name.as_deref() == Some(name))
        .and_then(|p| p.spec.as_ref())
        .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
}

fn instance(labels: Option<&BTreeMap<String, String>>) -> String {
    labels
        .and_then(|l| {
            l.get("app.kubernetes.io/instance")
                .or_else(|| l.get("cnpg.io/cluster"))
        })
        .cloned()
        .unwrap_or_default()
}

fn port(p: &IntOrString) -> String {
    match p {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// The ports of a rule, comma-separated.
fn ports(list: Option<&[NetworkPolicyPort]>) -> String {
    list.unwrap_or_default()
        .iter()
        .filter_map(|p| p.port.as_ref().map(port))
        .collect::<Vec<_>>()
        .join(",")
}

/// `component -> ports` of every egress rule to pods of this namespace.
fn egress(spec: &NetworkPolicySpec) -> Vec<String> {
    spec.egress
        .iter()
        .flatten()
        .filter_map(|r| {
            let peer = r.to.as_ref()?.first()?;
            if peer.namespace_selector.is_some() {
                return None;
            }
            let to = instance(peer.pod_selector.as_ref()?.match_labels.as_ref());
            Some(format!("{to}:{}", ports(r.ports.as_deref())))
        })
        .collect()
}

/// `component -> ports` of every ingress rule from pods of this namespace.
fn ingress(spec: &NetworkPolicySpec) -> Vec<String> {
    spec.ingress
        .iter()
        .flatten()
        .flat_map(|r| {
            let ports = ports(r.ports.as_deref());
            r.from
                .iter()
                .flatten()
                .filter(|p| p.namespace_selector.is_none() && p.pod_selector.is_some())
                .map(move |p| {
                    format!(
                        "{}:{}",
                        instance(p.pod_selector.as_ref().unwrap().match_labels.as_ref()),
                        ports
                    )
                })
        })
        .collect()
}

#[test]
fn a_dependency_opens_its_port_in_both_policies_and_nothing_else() {
    let objects = render(APP);
    // api needs one port of search and the database's 5432: only those go out.
    assert_eq!(egress(policy(&objects, "api")), ["search:7700", "db:5432"]);
    // web needs api with no port named: every port api serves.
    assert_eq!(egress(policy(&objects, "web")), ["api:8000,9000"]);
    // Each dependency lets its dependent in on that port only; search's peers come too.
    assert_eq!(
        ingress(policy(&objects, "search")),
        ["api:7700", "search:http,stats"]
    );
    assert_eq!(ingress(policy(&objects, "api")), ["web:http,admin"]);
    assert_eq!(
        ingress(policy(&objects, "db")),
        ["db:5432", "api:5432", "db:8000"]
    );
    // Nothing reaches web from inside the application.
    assert_eq!(ingress(policy(&objects, "web")), Vec::<String>::new());
}

#[test]
fn sync_waves_put_dependencies_first() {
    let objects = render(APP);
    let wave = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .and_then(|o| o.metadata().annotations.as_ref())
            .map(|a| a[SYNC_WAVE_ANNOTATION].clone())
            .unwrap_or_else(|| panic!("{kind}/{name} has no wave"))
    };
    assert_eq!(wave("Cluster", "db"), "0");
    assert_eq!(wave("StatefulSet", "search"), "0");
    assert_eq!(wave("Service", "search-headless"), "0");
    assert_eq!(wave("Deployment", "api"), "1");
    assert_eq!(wave("NetworkPolicy", "api"), "1");
    assert_eq!(wave("Deployment", "web"), "2");
    // Without `sync_waves`, no annotation.
    let objects = render(&APP.replace("sync_waves: true\n", ""));
    assert!(
        objects
            .iter()
            .filter(|o| o.kind() == "Deployment")
            .all(|o| o.metadata().annotations.is_none())
    );
}

#[test]
fn dependencies_are_checked_where_they_are_written() {
    let cases = [
        (
            "{component: search, port: 7700}",
            "{component: search, port: 7800}",
            "components.api.deployment.depends_on[0].port",
            "is 7800, but `search` serves 7700, 7701",
        ),
        (
            "{component: db, port: 5432}",
            "{component: db, port: 5433}",
            "components.api.deployment.depends_on[1].port",
            "`db` serves 5432",
        ),
        (
            "depends_on: [{component: api}]",
            "depends_on: [{component: cache}]",
            "components.web.deployment.depends_on[0].component",
            "`cache` names no component",
        ),
        (
            "      volume_claims:",
            "      depends_on: [{component: web}]\n      volume_claims:",
            "components.search.stateful_set.depends_on[0]",
            "closes a cycle (search -> web -> api -> search)",
        ),
        (
            "depends_on: [{component: api}]",
            "depends_on: [{component: api}]\n      connects_to: [api]",
            "components.web.deployment.depends_on[0].component",
            "is in connects_to too",
        ),
        (
            "depends_on: [{component: api}]",
            "depends_on: [{component: api, prot: 1}]",
            "components.web.deployment.depends_on[0]",
            "prot",
        ),
    ];
    for (from, to, setting, says) in cases {
        common::assert_refused_after(APP, from, to, setting, says);
    }
}

#[test]
fn a_path_let_out_but_not_let_in_is_caught() {
    let env = load_str(APP, "shop.yaml").unwrap();
    let mut objects = render(APP);
    assert_eq!(lint::lint(&objects, &Context::of(&env)), vec![]);
    // search's policy forgets api: api may leave, but search never lets it in.
    for o in &mut objects {
        if let Object::NetworkPolicy(p) = o
            && p.metadata.name.as_deref() == Some("search")
        {
            let spec = p.spec.as_mut().unwrap();
            spec.ingress.as_mut().unwrap().retain(|r| {
                !r.from.iter().flatten().any(|peer| {
                    instance(
                        peer.pod_selector
                            .as_ref()
                            .and_then(|s| s.match_labels.as_ref()),
                    ) == "api"
                })
            });
        }
    }
    let findings = lint::lint(&objects, &Context::of(&env));
    assert!(
        findings.iter().any(|f| f.rule == "dependency-admitted"
            && f.to_string().contains(
                "Deployment/api NetworkPolicy/api: lets these pods out to StatefulSet/search on port 7700"
            )),
        "{findings:?}"
    );
}
