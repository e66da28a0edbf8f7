//! What pods reference exists: emitted here, or declared by the environment as external.

use std::collections::BTreeSet;

use super::{Context, Findings, Index};

pub(super) fn check(index: &Index<'_>, ctx: &Context, f: &mut Findings<'_>) {
    for d in index.pod_owners() {
        let who = d.who();
        let Some(pod) = d.pod_spec() else { continue };
        let base = "spec.template.spec";
        let mut config_maps = BTreeSet::new();
        let mut claims = BTreeSet::new();
        // Secret name -> keys read (None: the whole Secret).
        let mut secrets: Vec<(String, Option<String>, String)> = Vec::new();

        for v in pod.volumes.iter().flatten() {
            let field = format!("{base}.volumes[{}]", v.name);
            if let Some(cm) = &v.config_map {
                config_maps.insert((cm.name.clone(), field.clone()));
            }
            if let Some(s) = &v.secret {
                let name = s.secret_name.clone().unwrap_or_default();
                match &s.items {
                    // Projected keys are read one by one; without items, the whole Secret.
                    Some(items) => secrets.extend(
                        items
                            .iter()
                            .map(|i| (name.clone(), Some(i.key.clone()), field.clone())),
                    ),
                    None => secrets.push((name, None, field.clone())),
                }
            }
            if let Some(p) = &v.persistent_volume_claim {
                claims.insert((p.claim_name.clone(), field.clone()));
            }
        }
        for (field, c) in d.containers_at() {
            for e in c.env.iter().flatten() {
                let Some(from) = &e.value_from else { continue };
                if let Some(k) = &from.config_map_key_ref {
                    config_maps.insert((k.name.clone(), format!("{field}.env[{}]", e.name)));
                }
                if let Some(k) = &from.secret_key_ref {
                    secrets.push((
                        k.name.clone(),
                        Some(k.key.clone()),
                        format!("{field}.env[{}]", e.name),
                    ));
                }
            }
            for e in c.env_from.iter().flatten() {
                if let Some(cm) = &e.config_map_ref {
                    config_maps.insert((cm.name.clone(), format!("{field}.envFrom")));
                }
                if let Some(s) = &e.secret_ref {
                    secrets.push((s.name.clone(), None, format!("{field}.envFrom")));
                }
            }
        }
        for s in pod.image_pull_secrets.iter().flatten() {
            secrets.push((s.name.clone(), None, format!("{base}.imagePullSecrets")));
        }

        for (name, field) in config_maps {
            if !index.has("ConfigMap", &name)
                && !ctx.external.config_maps.iter().any(|c| c.as_str() == name)
            {
                f.add(
                    "references-exist",
                    who.clone(),
                    field,
                    format!(
                        "ConfigMap `{name}` is neither emitted nor declared in external.config_maps"
                    ),
                );
            }
        }
        for (name, field) in claims {
            if !index.has("PersistentVolumeClaim", &name)
                && !ctx
                    .external
                    .persistent_volume_claims
                    .iter()
                    .any(|c| c.as_str() == name)
            {
                f.add(
                    "references-exist",
                    who.clone(),
                    field,
                    format!("PersistentVolumeClaim `{name}` is neither emitted nor declared in external.persistent_volume_claims"),
                );
            }
        }
        let sa = pod
            .service_account_name
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        if sa != "default"
            && !index.has("ServiceAccount", &sa)
            && !ctx
                .external
                .service_accounts
                .iter()
                .any(|s| s.as_str() == sa)
        {
            f.add(
                "references-exist",
                who.clone(),
                format!("{base}.serviceAccountName"),
                format!("ServiceAccount `{sa}` is neither emitted nor declared in external.service_accounts"),
            );
        }
        for (name, key, field) in secrets {
            if index.has("Secret", &name) {
                f.add(
                    "references-exist",
                    who.clone(),
                    field,
                    format!(
                        "Secret `{name}` is emitted: secret values must never appear in the output"
                    ),
                );
                continue;
            }
            // A Secret may be declared in several places (secrets, api_keys, the hub token).
            let declared: Vec<&String> = ctx
                .secrets
                .iter()
                .filter(|(n, _)| *n == name)
                .flat_map(|(_, keys)| keys)
                .collect();
            if !ctx.secrets.iter().any(|(n, _)| *n == name) {
                f.add(
                    "references-exist",
                    who.clone(),
                    field,
                    format!("Secret `{name}` is not declared in the environment's `secrets`"),
                );
            } else if let Some(k) = key
                && !declared.contains(&&k)
            {
                f.add(
                    "references-exist",
                    who.clone(),
                    field,
                    format!("key `{k}` of Secret `{name}` is not declared"),
                );
            }
        }
    }
}
