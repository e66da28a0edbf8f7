//! Monitoring objects built from the server's own metric contract ([`app::metrics`]): a
//! Prometheus Operator `PrometheusRule` ([`rules`]), a `ServiceMonitor`
//! ([`service_monitor`]) and a Grafana dashboard ([`dashboard`]).
//!
//! Every server metric a rule or a chart queries is named through `app::metrics`, so
//! renaming one there renames it on the server, in the alerts and in the charts together.
//! Series from kube-state-metrics and cAdvisor are named in [`kube`]. The inputs are plain:
//! a [`Scope`] (where the server runs and how its scraped series are labelled) and the
//! [`Objectives`].

pub mod dashboard;
pub mod kube;
pub mod objects;
pub mod promql;
pub mod rules;
pub mod service_monitor;

pub use crate::custom::{CustomKind, CustomResource};
pub use crate::settings::objectives::{self, LatencyObjective, ObjectiveError, Objectives};

use promql::Selector;

/// What is monitored, and the labels its series carry once scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Namespace of the workload (the `namespace` label of its series).
    pub namespace: String,
    /// The `job` label of the server's scraped series. A ServiceMonitor sets it to the
    /// name of the Service it scrapes (its `jobLabel` unset), so this is the metrics
    /// Service's name.
    pub job: String,
    /// The Deployment's name, as kube-state-metrics labels it.
    pub deployment: String,
    /// The server's container name, as kube-state-metrics and cAdvisor label it.
    pub container: String,
    /// The HorizontalPodAutoscaler's name, when the Deployment is autoscaled.
    pub autoscaler: Option<String>,
}

impl Scope {
    /// Selects the server's own series: `{namespace="...",job="..."}`.
    #[must_use]
    pub fn server(&self) -> Selector {
        Selector::default()
            .eq(kube::labels::NAMESPACE, &self.namespace)
            .eq(kube::labels::JOB, &self.job)
    }

    /// Selects the container's series from kube-state-metrics and cAdvisor.
    #[must_use]
    pub fn container(&self) -> Selector {
        Selector::default()
            .eq(kube::labels::NAMESPACE, &self.namespace)
            .eq(kube::labels::CONTAINER, &self.container)
    }
}

/// The anchor a Markdown heading gets on GitHub-like hosts: lower case, spaces to `-`,
/// other punctuation dropped.
#[must_use]
pub fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::Scope;

    /// A scope like prod's.
    pub fn scope() -> Scope {
        Scope {
            namespace: "akidb-prod".into(),
            job: "akidb-embed-metrics".into(),
            deployment: "akidb-embed".into(),
            container: "akidb-embed".into(),
            autoscaler: Some("akidb-embed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_carry_the_scope() {
        let s = testing::scope();
        assert_eq!(
            s.server().to_string(),
            r#"{namespace="akidb-prod",job="akidb-embed-metrics"}"#
        );
        assert_eq!(
            s.container().to_string(),
            r#"{namespace="akidb-prod",container="akidb-embed"}"#
        );
    }

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            heading_anchor("AkidbEmbedNoReadyPods"),
            "akidbembednoreadypods"
        );
        assert_eq!(
            heading_anchor("Import the dashboard"),
            "import-the-dashboard"
        );
        assert_eq!(
            heading_anchor("Series from kube-state-metrics"),
            "series-from-kube-state-metrics"
        );
    }
}
