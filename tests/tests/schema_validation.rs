//! Every environment passes the upstream Kubernetes JSON schemas in strict mode, for our
//! minimum (1.33) and the newest (1.37) version, through gen's validator wrapper and the real
//! `kubernetes-validate`. `make tools` installs it into `.venv`; `KUBERNETES_VALIDATE`
//! points at another binary.

use akidb_gen::validate::{self, Status};
use e2e::{root, validate_strictly, validator};

const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

#[test]
fn every_environment_passes_strict_schema_validation() {
    let mut checked = 0;
    for env in ["dev", "staging", "prod"] {
        let yaml = std::fs::read_to_string(root().join("out").join(format!("{env}.yaml"))).unwrap();
        for version in VERSIONS {
            // Built-in kinds by kubernetes-validate, custom resources (prod's ServiceMonitor
            // and PrometheusRule) against the upstream CRDs.
            validate_strictly(&yaml, version, &format!("out/{env}.yaml"));
            let report = validate::validate(&yaml, version, &validator()).unwrap();
            assert!(
                report
                    .resources
                    .iter()
                    .filter(|r| r.status == Status::Valid)
                    .count()
                    >= 7,
                "{env}: too few resources checked: {report:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn the_validator_really_rejects_an_unknown_field() {
    let good = std::fs::read_to_string(root().join("out/prod.yaml")).unwrap();
    let bad = good.replacen(
        "      maxUnavailable: 0\n",
        "      maxUnavailable: 0\n      maxSurpise: 1\n",
        1,
    );
    assert_ne!(good, bad, "the fixture edit did not apply");
    let report = validate::validate(&bad, VERSIONS[0], &validator()).unwrap();
    assert!(
        !report.is_ok(),
        "strict validation accepted an unknown field"
    );
    assert!(report.to_string().contains("maxSurpise"), "{report}");
}
