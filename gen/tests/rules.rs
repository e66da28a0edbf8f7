//! Every cross-object rule has a passing case (the baseline render) and a failing case
//! built by breaking the typed objects the way a hand edit or an overlay would.

use std::collections::BTreeMap;
use std::process::Command;

use akidb_gen::lint::{self, Context, Finding, Severity};
use akidb_gen::objects::Object;
use akidb_gen::pipeline;
use akidb_gen::pipeline::load_str as parse_str;
use akidb_gen::settings::{Environment, LoadError, Waiver};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const BASELINE: &str = r#"
namespace: rules-test
resource_quota: {requests_cpu: 10, requests_memory: 20Gi, limits_cpu: 20, limits_memory: 40Gi, persistent_volume_claims: 2}
components:
  akidb-embed:
    akidb_embed:
      autoscaling: {min_replicas: 2, max_replicas: 4}
      disruption_budget: {max_unavailable: 1}
      ingress: {hosts: [a.example.com], tls: {secret_name: a-tls}}
      model_cache: {access_mode: ReadWriteMany}
      secrets:
        - name: api-keys
          env: {API_KEY: key}
          mount_path: /var/run/keys
"#;

fn baseline_env() -> Environment {
    parse_str(BASELINE, "baseline.yaml").unwrap()
}

fn baseline() -> (Vec<Object>, Context) {
    let env = baseline_env();
    let objects = pipeline::objects(&env, "baseline").unwrap().objects;
    (objects, Context::of(&env))
}

/// Lints the baseline after `mutate`.
fn lint_after(mutate: impl FnOnce(&mut Vec<Object>)) -> Vec<Finding> {
    let (mut objects, ctx) = baseline();
    mutate(&mut objects);
    lint::lint(&objects, &ctx)
}

fn assert_fires(rule: &str, fragment: &str, mutate: impl FnOnce(&mut Vec<Object>)) {
    assert!(
        lint::rule(rule).is_some(),
        "`{rule}` is not in the rule table"
    );
    let findings = lint_after(mutate);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == rule && f.to_string().contains(fragment)),
        "expected `{rule}` mentioning {fragment:?}, got:\n{}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn deployment(objects: &mut [Object]) -> &mut Deployment {
    objects
        .iter_mut()
        .find_map(|o| {
            if let Object::Deployment(d) = o {
                Some(d)
            } else {
                None
            }
        })
        .unwrap()
}

/// The pod template's spec of the first Deployment.
fn pod_spec(objects: &mut [Object]) -> &mut PodSpec {
    deployment(objects)
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
}

fn container(objects: &mut [Object]) -> &mut Container {
    &mut pod_spec(objects).containers[0]
}

#[test]
fn the_baseline_and_every_committed_environment_pass_every_rule() {
    let (objects, ctx) = baseline();
    assert_eq!(lint::lint(&objects, &ctx), vec![]);
    for name in ["dev", "staging", "prod"] {
        let catalog =
            akidb_gen::Catalog::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../environments"));
        let (_, env) = pipeline::load(&catalog, name).unwrap();
        let checked = pipeline::objects(&env, name).unwrap();
        assert!(
            checked.lint.warnings.is_empty() && checked.lint.waived.is_empty(),
            "{name}: {:?}",
            checked.lint
        );
    }
}

#[test]
fn every_rule_has_a_failing_case_here() {
    let source = include_str!("rules.rs");
    for r in lint::rules() {
        let quoted = format!("\"{}\"", r.id);
        let cases = source.matches("assert_fires(").count();
        assert!(
            cases > 0 && source.contains(&quoted),
            "rule `{}` has no failing case in this file",
            r.id
        );
    }
}

#[test]
fn selector_matches_template() {
    assert_fires(
        "selector-matches-template",
        "Deployment/akidb-embed spec.selector",
        |o| {
            let labels = deployment(o)
                .spec
                .as_mut()
                .unwrap()
                .selector
                .match_labels
                .as_mut()
                .unwrap();
            labels.insert("tier".into(), "backend".into());
        },
    );
}

#[test]
fn service_selects_pods() {
    assert_fires(
        "service-selects-pods",
        "Service/akidb-embed spec.selector",
        |o| {
            for obj in o.iter_mut() {
                if let Object::Service(s) = obj {
                    s.spec.as_mut().unwrap().selector =
                        Some(BTreeMap::from([("app".into(), "other".into())]));
                }
            }
        },
    );
}

#[test]
fn service_target_port_exists() {
    assert_fires(
        "service-target-port-exists",
        "spec.ports[0].targetPort",
        |o| {
            for obj in o.iter_mut() {
                if let Object::Service(s) = obj {
                    s.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
                        Some(IntOrString::String("web".into()));
                }
            }
        },
    );
}

#[test]
fn metrics_port_private() {
    // The baseline scrapes through a ClusterIP Service of its own.
    let (objects, _) = baseline();
    let metrics_services: Vec<_> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Service(s) if s.metadata.name.as_deref() == Some("akidb-embed-metrics") => {
                s.spec.as_ref()
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        metrics_services.len(),
        1,
        "no metrics Service in {objects:#?}"
    );
    assert_eq!(metrics_services[0].type_.as_deref(), Some("ClusterIP"));
    // Made public, by name or by number, it is refused.
    for kind in ["NodePort", "LoadBalancer"] {
        assert_fires("metrics-port-private", kind, |o| {
            for obj in o.iter_mut() {
                if let Object::Service(s) = obj
                    && s.metadata.name.as_deref() == Some("akidb-embed-metrics")
                {
                    s.spec.as_mut().unwrap().type_ = Some(kind.to_owned());
                }
            }
        });
    }
    assert_fires("metrics-port-private", "9090", |o| {
        for obj in o.iter_mut() {
            if let Object::Service(s) = obj
                && s.metadata.name.as_deref() == Some("akidb-embed")
            {
                let spec = s.spec.as_mut().unwrap();
                spec.type_ = Some("NodePort".to_owned());
                spec.ports.as_mut().unwrap()[0].target_port = Some(IntOrString::Int(9090));
            }
        }
    });
}

#[test]
fn ingress_backend_exists() {
    let set_backend = |name: &'static str, port: &'static str| {
        move |o: &mut Vec<Object>| {
            for obj in o.iter_mut() {
                if let Object::Ingress(i) = obj {
                    let rules = i.spec.as_mut().unwrap().rules.as_mut().unwrap();
                    let svc = rules[0].http.as_mut().unwrap().paths[0]
                        .backend
                        .service
                        .as_mut()
                        .unwrap();
                    svc.name = name.into();
                    svc.port.as_mut().unwrap().name = Some(port.into());
                }
            }
        }
    };
    assert_fires(
        "ingress-backend-exists",
        "Service `missing` is not emitted",
        set_backend("missing", "http"),
    );
    assert_fires(
        "ingress-backend-exists",
        "has no port `grpc`",
        set_backend("akidb-embed", "grpc"),
    );
}

#[test]
fn probe_port_declared() {
    assert_fires("probe-port-declared", "livenessProbe", |o| {
        container(o)
            .liveness_probe
            .as_mut()
            .unwrap()
            .http_get
            .as_mut()
            .unwrap()
            .port = IntOrString::String("admin".into());
    });
}

#[test]
fn liveness_differs_from_readiness() {
    assert_fires("liveness-differs-from-readiness", "/health/ready", |o| {
        let c = container(o);
        let ready = c.readiness_probe.clone();
        c.liveness_probe.as_mut().unwrap().http_get = ready.unwrap().http_get;
    });
}

#[test]
fn scrape_port_declared() {
    assert_fires("scrape-port-declared", "prometheus.io/port", |o| {
        let meta = deployment(o)
            .spec
            .as_mut()
            .unwrap()
            .template
            .metadata
            .as_mut()
            .unwrap();
        meta.annotations
            .as_mut()
            .unwrap()
            .insert("prometheus.io/port".into(), "9999".into());
    });
}

#[test]
fn hpa_rules() {
    let hpa = |f: fn(&mut k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec)| {
        move |o: &mut Vec<Object>| {
            for obj in o.iter_mut() {
                if let Object::HorizontalPodAutoscaler(h) = obj {
                    f(h.spec.as_mut().unwrap());
                }
            }
        }
    };
    assert_fires(
        "hpa-target-exists",
        "Deployment `other` is not emitted",
        hpa(|s| s.scale_target_ref.name = "other".into()),
    );
    assert_fires(
        "hpa-min-within-max",
        "is 5 with maxReplicas 4",
        hpa(|s| s.min_replicas = Some(5)),
    );
    assert_fires(
        "hpa-metrics-have-requests",
        "scales on cpu but container `server` requests none",
        |o| {
            container(o)
                .resources
                .as_mut()
                .unwrap()
                .requests
                .as_mut()
                .unwrap()
                .remove("cpu");
        },
    );
    assert_fires(
        "hpa-owns-replicas",
        "Deployment/akidb-embed spec.replicas",
        |o| {
            deployment(o).spec.as_mut().unwrap().replicas = Some(3);
        },
    );
}

#[test]
fn pdb_rules() {
    let pdb = |f: fn(&mut k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec)| {
        move |o: &mut Vec<Object>| {
            for obj in o.iter_mut() {
                if let Object::PodDisruptionBudget(p) = obj {
                    f(p.spec.as_mut().unwrap());
                }
            }
        }
    };
    assert_fires(
        "pdb-selects-pods",
        "selects the pods of no Deployment or StatefulSet",
        pdb(|s| {
            s.selector.as_mut().unwrap().match_labels =
                Some(BTreeMap::from([("x".into(), "y".into())]));
        }),
    );
    assert_fires(
        "pdb-permits-disruption",
        "minimum of 2 replica(s)",
        pdb(|s| {
            s.max_unavailable = None;
            s.min_available = Some(IntOrString::Int(2));
        }),
    );
    assert_fires(
        "pdb-permits-disruption",
        "node drains would hang",
        pdb(|s| {
            s.max_unavailable = Some(IntOrString::String("0%".into()));
        }),
    );
}

#[test]
fn requests_within_limits() {
    assert_fires("requests-within-limits", "8 exceeds the limit 2", |o| {
        let requests = container(o)
            .resources
            .as_mut()
            .unwrap()
            .requests
            .as_mut()
            .unwrap();
        requests.insert("cpu".into(), Quantity("8".into()));
    });
    assert_fires("requests-within-limits", "limits.memory: is not set", |o| {
        container(o)
            .resources
            .as_mut()
            .unwrap()
            .limits
            .as_mut()
            .unwrap()
            .remove("memory");
    });
}

#[test]
fn image_pinned() {
    assert_fires("image-pinned", "floats on `latest`", |o| {
        container(o).image = Some("ghcr.io/akidb/akidb-embed:latest".into())
    });
    assert_fires("image-pinned", "has no tag or digest", |o| {
        container(o).image = Some("localhost:5000/akidb-embed".into())
    });
}

#[test]
fn pod_security_rules() {
    assert_fires("pod-non-root", "may run as root", |o| {
        pod_spec(o).security_context.as_mut().unwrap().run_as_user = Some(0);
    });
    assert_fires(
        "pod-no-privilege-escalation",
        "allowPrivilegeEscalation",
        |o| {
            container(o)
                .security_context
                .as_mut()
                .unwrap()
                .allow_privilege_escalation = Some(true);
        },
    );
    assert_fires("pod-read-only-root", "can write to its image", |o| {
        container(o)
            .security_context
            .as_mut()
            .unwrap()
            .read_only_root_filesystem = Some(false);
    });
}

#[test]
fn references_exist() {
    assert_fires("references-exist", "ConfigMap `missing-config`", |o| {
        let pod = pod_spec(o);
        pod.volumes.as_mut().unwrap()[0]
            .config_map
            .as_mut()
            .unwrap()
            .name = "missing-config".into();
    });
    assert_fires("references-exist", "ServiceAccount `ghost`", |o| {
        pod_spec(o).service_account_name = Some("ghost".into());
    });
    assert_fires(
        "references-exist",
        "key `token` of Secret `api-keys` is not declared",
        |o| {
            let env = container(o).env.as_mut().unwrap();
            let var = env.iter_mut().find(|v| v.name == "API_KEY").unwrap();
            var.value_from
                .as_mut()
                .unwrap()
                .secret_key_ref
                .as_mut()
                .unwrap()
                .key = "token".into();
        },
    );
    assert_fires(
        "references-exist",
        "Secret `db-password` is not declared",
        |o| {
            let pod = pod_spec(o);
            let secret_volume = pod
                .volumes
                .as_mut()
                .unwrap()
                .iter_mut()
                .find(|v| v.secret.is_some())
                .unwrap();
            secret_volume.secret.as_mut().unwrap().secret_name = Some("db-password".into());
        },
    );
    assert_fires(
        "references-exist",
        "PersistentVolumeClaim `akidb-embed-models`",
        |o| {
            o.retain(|obj| !matches!(obj, Object::PersistentVolumeClaim(_)));
        },
    );
}

#[test]
fn external_declarations_satisfy_references() {
    let mut env = baseline_env();
    env.external
        .persistent_volume_claims
        .push(akidb_gen::settings::DnsSubdomain::new("akidb-embed-models").unwrap());
    let mut objects = pipeline::objects(&env, "x").unwrap().objects;
    objects.retain(|obj| !matches!(obj, Object::PersistentVolumeClaim(_)));
    let findings = lint::lint(&objects, &Context::of(&env));
    assert!(
        findings.iter().all(|f| f.rule != "references-exist"),
        "{findings:?}"
    );
}

#[test]
fn rwo_claim_single_writer() {
    assert_fires("rwo-claim-single-writer", "can run 4 replicas", |o| {
        for obj in o.iter_mut() {
            if let Object::PersistentVolumeClaim(c) = obj {
                c.spec.as_mut().unwrap().access_modes = Some(vec!["ReadWriteOnce".into()]);
            }
        }
        let pod = pod_spec(o);
        for v in pod.volumes.as_mut().unwrap() {
            if let Some(p) = v.persistent_volume_claim.as_mut() {
                p.read_only = Some(false);
            }
        }
        for m in pod.containers[0].volume_mounts.as_mut().unwrap() {
            m.read_only = Some(false);
        }
    });
}

#[test]
fn rwo_claim_one_node() {
    assert_fires(
        "rwo-claim-one-node",
        "all 4 replicas must share one node",
        |o| {
            for obj in o.iter_mut() {
                if let Object::PersistentVolumeClaim(c) = obj {
                    c.spec.as_mut().unwrap().access_modes = Some(vec!["ReadWriteOnce".into()]);
                }
            }
        },
    );
}

fn set_quota(key: &'static str, value: &'static str) -> impl FnOnce(&mut Vec<Object>) {
    move |o| {
        for obj in o.iter_mut() {
            if let Object::ResourceQuota(q) = obj {
                q.spec
                    .as_mut()
                    .unwrap()
                    .hard
                    .as_mut()
                    .unwrap()
                    .insert(key.into(), Quantity(value.into()));
            }
        }
    }
}

#[test]
fn quota_rules() {
    // Two replicas of 1 CPU each at the minimum; three during a rollout.
    assert_fires(
        "quota-admits-minimum",
        "need 2000m at their minimum",
        set_quota("requests.cpu", "1500m"),
    );
    assert_fires(
        "quota-admits-rollout",
        "rolling update needs 3000m",
        set_quota("requests.cpu", "2"),
    );
    assert_fires(
        "quota-admits-minimum",
        "persistentvolumeclaims",
        set_quota("persistentvolumeclaims", "0"),
    );
    let findings = lint_after(set_quota("requests.cpu", "2"));
    let f = findings
        .iter()
        .find(|f| f.rule == "quota-admits-rollout")
        .unwrap();
    assert_eq!(f.severity, Severity::Warning);
    // The pull's 100m runs before the server, not beside it: a pod needs 1 CPU, not 1.1.
    assert!(
        !findings.iter().any(|f| f.rule == "quota-admits-minimum"),
        "{findings:?}"
    );
}

fn network_policy(objects: &mut [Object]) -> &mut k8s_openapi::api::networking::v1::NetworkPolicy {
    objects
        .iter_mut()
        .find_map(|o| {
            if let Object::NetworkPolicy(p) = o {
                Some(p)
            } else {
                None
            }
        })
        .unwrap()
}

#[test]
fn pull_egress_open() {
    // An overlay that trims the policy to DNS only strands the pull.
    assert_fires(
        "pull-egress-open",
        "`models-pull` pulls models from https://huggingface.co (TCP 443), but NetworkPolicy/akidb-embed allows no egress",
        |o| {
            let spec = network_policy(o).spec.as_mut().unwrap();
            spec.egress.as_mut().unwrap().truncate(1);
        },
    );
    // A rule with no ports opens every port; a rule on another port does not count.
    let open_all = lint_after(|o| {
        let spec = network_policy(o).spec.as_mut().unwrap();
        let rules = spec.egress.as_mut().unwrap();
        rules.truncate(1);
        rules.push(k8s_openapi::api::networking::v1::NetworkPolicyEgressRule::default());
    });
    assert!(
        !open_all.iter().any(|f| f.rule == "pull-egress-open"),
        "{open_all:?}"
    );

    // Through the settings: a mirror on its own port gets that port, and no addresses at
    // all is caught before anything is written.
    let mirror = format!(
        "{BASELINE}      models: {{hub_endpoint: \"http://hub-mirror.tools:8080/\", hub_egress_cidrs: [10.8.0.0/16]}}\n"
    );
    let env = parse_str(&mirror, "mirror.yaml").unwrap();
    let objects = pipeline::objects(&env, "mirror").unwrap().objects;
    let policy = objects
        .iter()
        .find_map(|o| match o {
            Object::NetworkPolicy(p) => Some(p),
            _ => None,
        })
        .unwrap();
    let egress = policy.spec.as_ref().unwrap().egress.as_ref().unwrap();
    assert!(
        egress.iter().any(|r| {
            r.ports
                .iter()
                .flatten()
                .any(|p| p.port == Some(IntOrString::Int(8080)))
                && r.to
                    .iter()
                    .flatten()
                    .any(|t| t.ip_block.as_ref().is_some_and(|b| b.cidr == "10.8.0.0/16"))
        }),
        "{egress:?}"
    );
    let closed = format!("{BASELINE}      models: {{hub_egress_cidrs: []}}\n");
    let env = parse_str(&closed, "closed.yaml").unwrap();
    let err = pipeline::objects(&env, "closed").unwrap_err().to_string();
    assert!(err.contains("pull-egress-open"), "{err}");
}

#[test]
fn deployment_selectors_disjoint() {
    // A second Deployment with the same selector, as a copied manifest would have.
    assert_fires(
        "deployment-selectors-disjoint",
        "also selects the pods of Deployment/akidb-embed-copy",
        |o| {
            let mut copy = deployment(o).clone();
            copy.metadata.name = Some("akidb-embed-copy".into());
            o.push(Object::Deployment(copy));
        },
    );
}

#[test]
fn concurrent_pulls_into_one_claim_are_not_two_writers() {
    // ReadWriteOnce with 4 replicas: one node for all (a warning), but the pull locks and
    // renames, so its read-write mount is not the error a second writer would be.
    let findings = lint_after(|o| {
        for obj in o.iter_mut() {
            if let Object::PersistentVolumeClaim(c) = obj {
                c.spec.as_mut().unwrap().access_modes = Some(vec!["ReadWriteOnce".into()]);
            }
        }
    });
    assert!(
        findings.iter().any(|f| f.rule == "rwo-claim-one-node"),
        "{findings:?}"
    );
    assert!(
        !findings.iter().any(|f| f.rule == "rwo-claim-single-writer"),
        "{findings:?}"
    );
}

#[test]
fn valid_names_and_labels() {
    assert_fires("valid-names", "not a valid DNS-1123 label", |o| {
        for obj in o.iter_mut() {
            if let Object::Service(s) = obj {
                s.metadata.name = Some("Embed_API".into());
            }
        }
    });
    assert_fires("valid-names", "must be 1 to 63 characters", |o| {
        let d = deployment(o);
        d.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("team".into(), "x".repeat(64));
    });
}

#[test]
fn single_namespace() {
    assert_fires(
        "single-namespace",
        "every object must live in `rules-test`",
        |o| {
            deployment(o).metadata.namespace = Some("default".into());
        },
    );
}

#[test]
fn waivers_move_findings_aside_and_unused_ones_warn() {
    let (mut objects, ctx) = baseline();
    container(&mut objects)
        .security_context
        .as_mut()
        .unwrap()
        .read_only_root_filesystem = Some(false);
    let waiver = |rule: &str| Waiver {
        rule: rule.into(),
        reason: "the image writes a cache; tracked in OPS-1".into(),
    };
    let outcome = lint::lint_with_waivers(
        &objects,
        &ctx,
        &[waiver("pod-read-only-root"), waiver("image-pinned")],
    );
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.waived.len(), 1);
    assert_eq!(outcome.waived[0].0.rule, "pod-read-only-root");
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.rule == "unused-waiver" && w.message.contains("image-pinned"))
    );
}

#[test]
fn waivers_need_a_known_rule_and_a_reason() {
    let yaml = "namespace: a\ncomponents: {x: {akidb_embed: {}}}\nwaivers:\n  - {rule: no-such-rule, reason: because we must says ops}\n  - {rule: image-pinned, reason: meh}\n";
    match parse_str(yaml, "w.yaml") {
        Err(LoadError::Invalid { problems, .. }) => {
            let text = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(text.contains("`waivers[0].rule`: `no-such-rule` is not a rule; valid rules: selector-matches-template"), "{text}");
            assert!(text.contains("`waivers[1].reason`"), "{text}");
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_rule_error_stops_the_render_and_a_waiver_lets_it_through() {
    let dir = tempfile::tempdir().unwrap();
    let run = |yaml: &str| {
        std::fs::write(dir.path().join("q.yaml"), yaml).unwrap();
        Command::new(env!("CARGO_BIN_EXE_gen"))
            .arg("./q.yaml")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let tight = "namespace: q\npart_of: shop\ncomponents: {x: {akidb_embed: {autoscaling: {min_replicas: 2, max_replicas: 3}}}}\nresource_quota: {requests_cpu: 1}\n";
    let out = run(tight);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(
        err.contains("error[quota-admits-minimum]: ResourceQuota/shop spec.hard.requests.cpu"),
        "{err}"
    );

    let waived = format!(
        "{tight}waivers:\n  - rule: quota-admits-minimum\n    reason: the quota is raised by the platform team before rollout\n"
    );
    let out = run(&waived);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waived[quota-admits-minimum]"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: ResourceQuota"));
}

#[test]
fn env_names_unique() {
    assert_fires(
        "env-names-unique",
        "spec.template.spec.containers[0].env[RAYON_NUM_THREADS]: `RAYON_NUM_THREADS` is set more than once in container `server`",
        |o| {
            let pod = pod_spec(o);
            let env = pod.containers[0].env.as_mut().unwrap();
            let first = env[0].clone();
            env.push(first);
        },
    );
}

#[test]
fn pods_have_network_policy() {
    assert_fires("pods-have-network-policy", "Deployment/akidb-embed", |o| {
        o.retain(|x| !matches!(x, Object::NetworkPolicy(_)))
    });
}

#[test]
fn stateful_set_has_headless_service() {
    // A StatefulSet from a copied manifest whose governing Service was never written.
    let yaml = r#"
namespace: a
components:
  db:
    stateful_set:
      image: {repository: postgres, tag: "16"}
      port: 5432
      health: {liveness: tcp, readiness: tcp}
      volume_claims: {data: {path: /var/lib/postgresql/data, size: 1Gi}}
"#;
    let env = parse_str(yaml, "a.yaml").unwrap();
    let mut objects = pipeline::objects(&env, "a").unwrap().objects;
    assert_eq!(lint::lint(&objects, &Context::of(&env)), vec![]);
    objects.retain(|o| o.name() != "db-headless");
    let findings = lint::lint(&objects, &Context::of(&env));
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "stateful-set-has-headless-service"
                && f.to_string().contains("StatefulSet/db spec.serviceName")),
        "{findings:?}"
    );
}

#[test]
fn dependency_admitted() {
    // The baseline lets the server out to a block; a path to pods of its own that no
    // policy lets in is what the rule is for (gen/tests/dependencies.rs has the case with
    // two components); here the server's own policy lets it out to itself on a port it
    // does not admit.
    assert_fires(
        "dependency-admitted",
        "lets these pods out to Deployment/akidb-embed on port 9999",
        |o| {
            let selector = deployment(o).spec.as_ref().unwrap().selector.clone();
            for x in o.iter_mut() {
                if let Object::NetworkPolicy(p) = x {
                    let spec = p.spec.as_mut().unwrap();
                    spec.egress.get_or_insert_with(Vec::new).push(
                        k8s_openapi::api::networking::v1::NetworkPolicyEgressRule {
                            to: Some(vec![k8s_openapi::api::networking::v1::NetworkPolicyPeer {
                                pod_selector: Some(selector.clone()),
                                ..Default::default()
                            }]),
                            ports: Some(vec![
                                k8s_openapi::api::networking::v1::NetworkPolicyPort {
                                    port: Some(IntOrString::Int(9999)),
                                    protocol: Some("TCP".to_owned()),
                                    end_port: None,
                                },
                            ]),
                        },
                    );
                }
            }
        },
    );
}

#[test]
fn findings_name_init_and_main_containers_by_their_own_lists() {
    // The baseline server pulls its models in an init container: a finding on either
    // container names its own list and index, as `kubectl explain` paths do.
    for (init, field) in [
        (true, "spec.template.spec.initContainers[0]"),
        (false, "spec.template.spec.containers[0]"),
    ] {
        assert_fires("pod-read-only-root", field, |o| {
            let pod = pod_spec(o);
            let c = if init {
                &mut pod.init_containers.as_mut().unwrap()[0]
            } else {
                &mut pod.containers[0]
            };
            c.security_context
                .as_mut()
                .unwrap()
                .read_only_root_filesystem = Some(false);
        });
    }
}
