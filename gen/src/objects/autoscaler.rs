//! HorizontalPodAutoscaler (autoscaling/v2) on CPU and memory utilisation, and on Pods and
//! External metrics where the settings add them.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{int, meta};
use crate::settings::ScalingMetric;
use crate::workload::Plan;

/// Builds the autoscaler, when the environment turns autoscaling on.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<HorizontalPodAutoscaler> {
    let a = plan.settings.autoscaling?;
    let mut metrics = vec![utilization("cpu", a.target_cpu_utilization)];
    metrics.extend(
        a.target_memory_utilization
            .map(|m| utilization("memory", m)),
    );
    metrics.extend(a.metrics.iter().map(custom));
    let policy = |type_: &str, value: u32, period: u32| HPAScalingPolicy {
        type_: type_.to_owned(),
        value: int(value),
        period_seconds: int(period),
    };
    Some(HorizontalPodAutoscaler {
        metadata: meta(plan, plan.workload_name()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: plan.workload.controller.kind().to_owned(),
                name: plan.workload_name(),
            },
            min_replicas: Some(int(a.min_replicas)),
            max_replicas: int(a.max_replicas),
            metrics: Some(metrics),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(int(a
                        .scale_up
                        .stabilization_window_seconds)),
                    select_policy: Some("Max".to_owned()),
                    policies: Some(vec![
                        policy("Percent", a.scale_up.max_percent, a.scale_up.period_seconds),
                        policy("Pods", a.scale_up.max_pods, a.scale_up.period_seconds),
                    ]),
                    ..HPAScalingRules::default()
                }),
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(int(a
                        .scale_down
                        .stabilization_window_seconds)),
                    select_policy: Some("Min".to_owned()),
                    policies: Some(vec![policy(
                        "Pods",
                        a.scale_down.max_pods,
                        a.scale_down.period_seconds,
                    )]),
                    ..HPAScalingRules::default()
                }),
            }),
        }),
        ..HorizontalPodAutoscaler::default()
    })
}

/// A Pods or External metric.
fn custom(metric: &ScalingMetric) -> MetricSpec {
    let identifier = |name: &str, selector: &BTreeMap<String, String>| MetricIdentifier {
        name: name.to_owned(),
        selector: (!selector.is_empty()).then(|| LabelSelector {
            match_labels: Some(selector.clone()),
            ..LabelSelector::default()
        }),
    };
    match metric {
        ScalingMetric::Pods(m) => MetricSpec {
            type_: "Pods".to_owned(),
            pods: Some(PodsMetricSource {
                metric: identifier(&m.name, &m.selector),
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(Quantity(m.average_value.clone())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        },
        ScalingMetric::External(e) => MetricSpec {
            type_: "External".to_owned(),
            external: Some(ExternalMetricSource {
                metric: identifier(&e.name, &e.selector),
                target: match (&e.value, &e.average_value) {
                    (Some(v), _) => MetricTarget {
                        type_: "Value".to_owned(),
                        value: Some(Quantity(v.clone())),
                        ..MetricTarget::default()
                    },
                    (None, average) => MetricTarget {
                        type_: "AverageValue".to_owned(),
                        average_value: average.clone().map(Quantity),
                        ..MetricTarget::default()
                    },
                },
            }),
            ..MetricSpec::default()
        },
    }
}

fn utilization(resource: &str, percent: u32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: resource.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(int(percent)),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}
