//! Reading a pod the way the kubelet does: which port and path a probe asks, which volume
//! a mount names, what a ConfigMap volume holds.

use std::path::Path;

use akidb_gen::lint::{self, Index};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, PodSpec, Probe, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The container port `port` names: a number, or the name of a declared port.
///
/// # Panics
/// When a named port is not declared, or the number is no TCP port.
#[must_use]
pub fn port_of(c: &Container, port: &IntOrString) -> u16 {
    let n = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => {
            c.ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("probe port `{name}` is not a declared container port"))
                .container_port
        }
    };
    u16::try_from(n).unwrap()
}

/// Port and path of an `httpGet` probe.
///
/// # Panics
/// When the probe is missing or is not an `httpGet`.
#[must_use]
pub fn probe_target(c: &Container, probe: Option<&Probe>) -> (u16, String) {
    let get = probe
        .and_then(|p| p.http_get.as_ref())
        .expect("an httpGet probe");
    (port_of(c, &get.port), get.path.clone().unwrap())
}

/// Every container of a Deployment's pods, init containers first.
pub fn all_containers(d: &Deployment) -> impl Iterator<Item = &Container> {
    lint::pod_spec(d)
        .into_iter()
        .flat_map(|p| p.init_containers.iter().flatten().chain(&p.containers))
}

/// The pod's volume that a mount names.
///
/// # Panics
/// When the pod declares no volume of that name.
#[must_use]
pub fn volume_of<'p>(pod: &'p PodSpec, mount: &VolumeMount) -> &'p Volume {
    pod.volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap_or_else(|| panic!("mounted volume {} is not declared", mount.name))
}

/// The ConfigMap volume `source` written into `dir` as the kubelet projects it: one file
/// per key.
///
/// # Panics
/// When the objects hold no such ConfigMap, or a file cannot be written.
pub fn write_config_map(index: &Index, source: &ConfigMapVolumeSource, dir: &Path) {
    let cm = index
        .config_maps()
        .find(|cm| cm.metadata.name.as_deref() == Some(source.name.as_str()))
        .unwrap_or_else(|| panic!("no ConfigMap {}", source.name));
    std::fs::create_dir_all(dir).unwrap();
    for (file, contents) in cm.data.iter().flatten() {
        std::fs::write(dir.join(file), contents).unwrap();
    }
}
