//! The rule table and the checks behind it, grouped by concern.

mod egress;
mod pods;
mod references;
mod scaling;
mod security;
mod structure;
mod wiring;

use super::{Context, Finding, Index, Rule, Severity};

use Severity::{Error, Warning};

/// Every rule, in documentation order. Ids are stable: waivers name them.
pub const ALL: &[Rule] = &[
    Rule {
        id: "selector-matches-template",
        severity: Error,
        summary: "A Deployment's or StatefulSet's selector matches its own pod template labels.",
        why: "The API server rejects a workload whose selector does not select its template; caught before apply.",
    },
    Rule {
        id: "deployment-selectors-disjoint",
        severity: Error,
        summary: "No Deployment's or StatefulSet's selector selects the pods of another (blue-green colours included).",
        why: "Two controllers claiming one set of pods fight over their count: each scales the other's pods away, and rollouts of one replace the other.",
    },
    Rule {
        id: "service-selects-pods",
        severity: Error,
        summary: "A Service has a selector and it selects the pods of a Deployment or StatefulSet.",
        why: "A Service that selects nothing has no endpoints: every request fails while all objects look healthy.",
    },
    Rule {
        id: "service-target-port-exists",
        severity: Error,
        summary: "Every Service targetPort names or numbers a port the selected containers declare.",
        why: "A target port the pods do not serve makes the Service refuse connections.",
    },
    Rule {
        id: "metrics-port-private",
        severity: Error,
        summary: "No NodePort or LoadBalancer Service carries the port Prometheus scrapes (`prometheus.io/port`).",
        why: "A public Service would open `/metrics` on every node or on the load balancer, guarded only by a NetworkPolicy that not every cluster enforces; scrape through a ClusterIP Service.",
    },
    Rule {
        id: "ingress-backend-exists",
        severity: Error,
        summary: "Every Ingress backend names an emitted Service and one of its ports.",
        why: "A backend that does not exist makes the controller answer 503 for the host.",
    },
    Rule {
        id: "probe-port-declared",
        severity: Error,
        summary: "Every probe's port is a declared container port.",
        why: "A probe on an undeclared named port is rejected; on an unserved number it fails and restarts the pod forever.",
    },
    Rule {
        id: "liveness-differs-from-readiness",
        severity: Error,
        summary: "Liveness and readiness probes check different endpoints.",
        why: "With one endpoint, a pod that is merely busy or draining is restarted instead of taken out of rotation.",
    },
    Rule {
        id: "scrape-port-declared",
        severity: Error,
        summary: "The `prometheus.io/port` annotation names a declared container port.",
        why: "Prometheus would scrape a closed port and the workload would look down in every dashboard.",
    },
    Rule {
        id: "hpa-target-exists",
        severity: Error,
        summary: "A HorizontalPodAutoscaler targets an emitted Deployment or StatefulSet.",
        why: "An autoscaler without a target does nothing, silently.",
    },
    Rule {
        id: "hpa-metrics-have-requests",
        severity: Error,
        summary: "Every resource metric of an autoscaler has a matching request on every container.",
        why: "Utilization is measured against requests; without one the autoscaler cannot compute it and never scales.",
    },
    Rule {
        id: "hpa-min-within-max",
        severity: Error,
        summary: "An autoscaler's minReplicas is at least 1 and at most maxReplicas.",
        why: "The API server rejects the object otherwise.",
    },
    Rule {
        id: "hpa-owns-replicas",
        severity: Error,
        summary: "A Deployment or StatefulSet managed by an autoscaler sets no static replicas.",
        why: "Every apply would reset the replica count, undoing the autoscaler's work mid-traffic.",
    },
    Rule {
        id: "pdb-selects-pods",
        severity: Error,
        summary: "A PodDisruptionBudget selects the pods of a Deployment or StatefulSet.",
        why: "A budget that selects nothing protects nothing.",
    },
    Rule {
        id: "pdb-permits-disruption",
        severity: Error,
        summary: "A PodDisruptionBudget still permits one eviction at the smallest replica count.",
        why: "A budget that permits no eviction makes every `kubectl drain` and node upgrade hang.",
    },
    Rule {
        id: "requests-within-limits",
        severity: Error,
        summary: "Every container's requests are at most its limits, and both are set for CPU and memory.",
        why: "Requests above limits are rejected; missing ones make scheduling and autoscaling guesswork.",
    },
    Rule {
        id: "image-pinned",
        severity: Error,
        summary: "Every image is pinned by a tag other than `latest`, or by a digest.",
        why: "A floating image makes two pods of one ReplicaSet run different code and rollbacks impossible.",
    },
    Rule {
        id: "pod-non-root",
        severity: Error,
        summary: "Every container runs as non-root (`runAsNonRoot`, no uid 0).",
        why: "A container escape as root owns the node; the namespace enforces the restricted Pod Security Standard.",
    },
    Rule {
        id: "pod-no-privilege-escalation",
        severity: Error,
        summary: "Every container sets `allowPrivilegeEscalation: false` and drops all capabilities.",
        why: "setuid binaries and capabilities are the usual steps from a bug to a node compromise.",
    },
    Rule {
        id: "pod-read-only-root",
        severity: Error,
        summary: "Every container has a read-only root filesystem.",
        why: "An attacker cannot drop tools into the image, and writes go to declared, bounded volumes.",
    },
    Rule {
        id: "references-exist",
        severity: Error,
        summary: "Every ConfigMap, Secret, PersistentVolumeClaim and ServiceAccount a pod references is emitted or declared external; Secrets (always external) are declared with their keys.",
        why: "A missing reference leaves pods Pending or in CreateContainerConfigError; secret values never appear in the output.",
    },
    Rule {
        id: "rwo-claim-single-writer",
        severity: Error,
        summary: "A ReadWriteOnce claim is never mounted read-write by a workload that can run more than one replica.",
        why: "A second replica on another node cannot attach the volume and stays Pending; on one node, two writers corrupt it.",
    },
    Rule {
        id: "rwo-claim-one-node",
        severity: Warning,
        summary: "A ReadWriteOnce claim (even mounted read-only) used by a workload that can run more than one replica.",
        why: "The volume attaches to one node only, so every replica must land there; a replica scheduled elsewhere stays Pending.",
    },
    Rule {
        id: "pull-egress-open",
        severity: Error,
        summary: "A pod whose init container pulls models (`akidb-embed models pull`) may connect to the hub's port under every NetworkPolicy that selects it.",
        why: "A blocked pull waits out its timeouts and retries; the pod stays in Init and never serves, with nothing in the manifests looking wrong.",
    },
    Rule {
        id: "quota-admits-minimum",
        severity: Error,
        summary: "A ResourceQuota admits every workload at its minimum replica count.",
        why: "A quota below the autoscaler's minimum keeps pods from ever being created.",
    },
    Rule {
        id: "quota-admits-rollout",
        severity: Warning,
        summary: "A ResourceQuota admits the extra pod of a rolling update at the minimum replica count.",
        why: "Without room for the surge pod a rollout stalls until the quota is raised.",
    },
    Rule {
        id: "valid-names",
        severity: Error,
        summary: "Object names are DNS-1123 (labels where Kubernetes requires them); label keys and values are valid, values at most 63 characters.",
        why: "The API server rejects them otherwise, often after earlier objects were already applied.",
    },
    Rule {
        id: "single-namespace",
        severity: Error,
        summary: "Every namespaced object lives in the environment's namespace.",
        why: "Objects in another namespace cannot reach each other by name; environments must not collide.",
    },
    Rule {
        id: "stateful-set-has-headless-service",
        severity: Error,
        summary: "A StatefulSet's serviceName is an emitted headless Service that selects its pods.",
        why: "Without its governing Service the pods get no DNS names, and the peers of a clustered store cannot find each other.",
    },
    Rule {
        id: "env-names-unique",
        severity: Error,
        summary: "No container sets an environment variable twice.",
        why: "Kubernetes keeps the last value silently, so one of the two settings never takes effect.",
    },
    Rule {
        id: "dependency-admitted",
        severity: Error,
        summary: "Every path a NetworkPolicy opens out of a pod to another workload's pods is let in by that workload's policies.",
        why: "A dependency let out but not let in fails only at run time, every connection timing out.",
    },
    Rule {
        id: "pods-have-network-policy",
        severity: Warning,
        summary: "Some NetworkPolicy selects every pod for ingress.",
        why: "Pods that no policy selects accept connections from any pod in the cluster.",
    },
];

/// Runs every check.
pub fn run(index: &Index<'_>, ctx: &Context, out: &mut Vec<Finding>) {
    let mut f = Findings(out);
    structure::check(index, ctx, &mut f);
    wiring::check(index, &mut f);
    scaling::check(index, &mut f);
    security::check(index, &mut f);
    egress::check(index, &mut f);
    pods::check(index, &mut f);
    references::check(index, ctx, &mut f);
}

/// Collects findings, taking each rule's severity from the table.
struct Findings<'a>(&'a mut Vec<Finding>);

impl Findings<'_> {
    fn add(
        &mut self,
        rule: &'static str,
        object: String,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let severity = ALL
            .iter()
            .find(|r| r.id == rule)
            .map_or(Error, |r| r.severity);
        self.0.push(Finding {
            rule,
            severity,
            object,
            field: field.into(),
            message: message.into(),
        });
    }
}
