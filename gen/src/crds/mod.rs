//! Custom resources checked against the real schemas of their CustomResourceDefinitions:
//! a folder of CRD files (what `kubectl get crd NAME -o yaml` prints, one or many per
//! file, or a `List`) gives each kind's `openAPIV3Schema`; every custom resource in a stream
//! must match its schema, with the fields the API server would prune refused.

mod strict;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why the CRD folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The folder or a file in it could not be read.
    #[error("cannot read CRDs from {}: {source}", path.display())]
    Read {
        /// Folder or file.
        path: PathBuf,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A file is not YAML.
    #[error("{}: not a YAML stream: {message}", path.display())]
    Yaml {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A CRD's schema is not a schema the validator accepts.
    #[error("{}: the schema of {kind} ({version}) cannot be used: {message}", path.display())]
    Schema {
        /// File.
        path: PathBuf,
        /// Kind.
        kind: String,
        /// API version.
        version: String,
        /// Validator message.
        message: String,
    },
    /// The folder holds no CRD.
    #[error("{} holds no CustomResourceDefinition (*.yaml, *.yml or *.json)", path.display())]
    Empty {
        /// Folder.
        path: PathBuf,
    },
}

/// One version of one custom kind: its strict schema, compiled.
struct Kind {
    validator: jsonschema::Validator,
    file: PathBuf,
}

/// Every custom kind a CRD folder defines, by `apiVersion` and `kind`.
pub struct CrdCatalog {
    kinds: BTreeMap<(String, String), Kind>,
}

impl std::fmt::Debug for CrdCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kinds.keys()).finish()
    }
}

/// A custom resource that fails its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based document number in the stream.
    pub document: usize,
    /// `apiVersion/kind name`.
    pub object: String,
    /// JSON pointer of the field at fault (empty for the object itself).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "document {}: {}", self.document, self.object)?;
        if !self.field.is_empty() {
            write!(f, " {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// API groups the Kubernetes API server serves itself; everything else is custom.
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "certificates.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "events.k8s.io",
    "resource.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
];

/// Whether `api_version` belongs to a kind the API server defines itself.
#[must_use]
pub fn is_built_in(api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    BUILT_IN_GROUPS.contains(&group)
}

/// How many documents of a stream are custom resources.
#[must_use]
pub fn count_custom(docs: &[Value]) -> usize {
    docs.iter()
        .filter(|d| !is_built_in(d["apiVersion"].as_str().unwrap_or_default()))
        .count()
}

impl CrdCatalog {
    /// Reads every CRD in `dir`.
    ///
    /// # Errors
    /// Unreadable files, YAML errors, schemas the validator refuses, or no CRD at all.
    pub fn load(dir: &Path) -> Result<CrdCatalog, CrdError> {
        let read = |path: &Path, source| CrdError::Read {
            path: path.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read(dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            })
            .collect();
        files.sort();
        let mut kinds = BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| read(&file, e))?;
            let docs: Vec<Value> =
                serde_saphyr::from_multiple(&text).map_err(|e| CrdError::Yaml {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
            for crd in docs.iter().flat_map(crds_in) {
                add_crd(crd, &file, &mut kinds)?;
            }
        }
        if kinds.is_empty() {
            return Err(CrdError::Empty {
                path: dir.to_owned(),
            });
        }
        Ok(CrdCatalog { kinds })
    }

    /// Every `(apiVersion, kind)` the catalog knows.
    pub fn kinds(&self) -> impl Iterator<Item = &(String, String)> {
        self.kinds.keys()
    }

    /// Checks every custom resource of a stream of documents. A custom kind without a CRD
    /// is a violation unless `skip` names its kind.
    #[must_use]
    pub fn check(&self, docs: &[Value], skip: &[String]) -> Vec<Violation> {
        let mut out = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default();
            let kind = doc["kind"].as_str().unwrap_or_default();
            if is_built_in(api_version) || skip.iter().any(|s| s == kind) {
                continue;
            }
            let object = format!(
                "{api_version}/{kind} {}",
                doc["metadata"]["name"].as_str().unwrap_or("(unnamed)")
            );
            let Some(k) = self.kinds.get(&(api_version.to_owned(), kind.to_owned())) else {
                out.push(Violation {
                    document: i + 1,
                    object,
                    field: String::new(),
                    message: format!(
                        "no CRD defines {kind} in {api_version}; add its CRD to the folder, or skip the kind by name (--skip-crd {kind})"
                    ),
                });
                continue;
            };
            for e in k.validator.iter_errors(doc) {
                out.push(Violation {
                    document: i + 1,
                    object: object.clone(),
                    field: e.instance_path().to_string(),
                    message: format!("{e} (schema from {})", k.file.display()),
                });
            }
        }
        out
    }
}

/// The CRDs a document holds: itself, or the items of a `List`.
fn crds_in(doc: &Value) -> Vec<&Value> {
    match doc["kind"].as_str() {
        Some("CustomResourceDefinition") => vec![doc],
        Some("List" | "CustomResourceDefinitionList") => doc["items"]
            .as_array()
            .map(|items| items.iter().flat_map(crds_in).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn add_crd(
    crd: &Value,
    file: &Path,
    kinds: &mut BTreeMap<(String, String), Kind>,
) -> Result<(), CrdError> {
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
    for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
        let Some(name) = version["name"].as_str() else {
            continue;
        };
        let Some(schema) = version["schema"].get("openAPIV3Schema") else {
            continue;
        };
        let api_version = format!("{group}/{name}");
        let validator =
            jsonschema::draft4::new(&strict::strict(schema)).map_err(|e| CrdError::Schema {
                path: file.to_owned(),
                kind: kind.to_owned(),
                version: api_version.clone(),
                message: e.to_string(),
            })?;
        kinds.insert(
            (api_version, kind.to_owned()),
            Kind {
                validator,
                file: file.to_owned(),
            },
        );
    }
    Ok(())
}
