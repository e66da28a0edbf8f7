//! Blue-green (seed 000, day 4): two colours side by side, the API Service on the active
//! one; switching and rolling back are one setting.

use akidb_gen::lint::{self, Context};
use akidb_gen::objects::Object;
use akidb_gen::pipeline;
use akidb_gen::pipeline::load_str;

fn render(active: &str, green: bool) -> Vec<Object> {
    let green = if green {
        "        green: {image: {tag: 0.2.0}}\n"
    } else {
        ""
    };
    let yaml = format!(
        "namespace: bg\ncomponents:\n  api:\n    akidb_embed:\n      autoscaling: {{min_replicas: 2, max_replicas: 4}}\n      disruption_budget: {{max_unavailable: 1}}\n      model_cache: {{access_mode: ReadWriteMany}}\n      ingress: {{hosts: [bg.example.com]}}\n      blue_green:\n        active: {active}\n        blue: {{image: {{tag: 0.1.0}}}}\n{green}"
    );
    let env = load_str(&yaml, "bg.yaml").unwrap_or_else(|e| panic!("{e}"));
    pipeline::objects(&env, "bg").unwrap().objects
}

fn names(objects: &[Object], kind: &str) -> Vec<String> {
    objects
        .iter()
        .filter(|o| o.kind() == kind)
        .map(|o| o.name().to_owned())
        .collect()
}

fn service(objects: &[Object], name: &str) -> k8s_openapi::api::core::v1::Service {
    objects
        .iter()
        .find_map(|o| match o {
            Object::Service(s) if s.metadata.name.as_deref() == Some(name) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn image_of(objects: &[Object], deployment: &str) -> String {
    objects
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) if d.metadata.name.as_deref() == Some(deployment) => {
                lint::pod_spec(d).and_then(|p| p.containers[0].image.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[test]
fn each_colour_has_its_deployment_autoscaler_budget_and_service() {
    let objects = render("blue", true);
    assert_eq!(names(&objects, "Deployment"), ["api-blue", "api-green"]);
    assert_eq!(
        names(&objects, "HorizontalPodAutoscaler"),
        ["api-blue", "api-green"]
    );
    assert_eq!(
        names(&objects, "PodDisruptionBudget"),
        ["api-blue", "api-green"]
    );
    assert_eq!(
        names(&objects, "Service"),
        ["api", "api-metrics", "api-blue", "api-green"]
    );
    assert_eq!(
        image_of(&objects, "api-blue"),
        "ghcr.io/akidb/akidb-embed:0.1.0"
    );
    assert_eq!(
        image_of(&objects, "api-green"),
        "ghcr.io/akidb/akidb-embed:0.2.0"
    );
    let main = service(&objects, "api").spec.unwrap().selector.unwrap();
    assert_eq!(main["akidb-gen/color"], "blue");
    let green = service(&objects, "api-green")
        .spec
        .unwrap()
        .selector
        .unwrap();
    assert_eq!(green["akidb-gen/color"], "green");
    // Scraping covers both colours.
    let metrics = service(&objects, "api-metrics")
        .spec
        .unwrap()
        .selector
        .unwrap();
    assert!(!metrics.contains_key("akidb-gen/color"));
    // And every rule passes.
    let env = load_str(
        "namespace: bg\ncomponents: {api: {akidb_embed: {}}}\n",
        "ctx.yaml",
    )
    .unwrap();
    assert_eq!(lint::lint(&objects, &Context::of(&env)), vec![]);
}

#[test]
fn switching_changes_only_the_api_service_and_rolling_back_restores_it() {
    let blue = render("blue", true);
    let green = render("green", true);
    assert_eq!(blue.len(), green.len());
    let changed: Vec<String> = blue
        .iter()
        .zip(&green)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| format!("{}/{}", a.kind(), a.name()))
        .collect();
    assert_eq!(changed, ["Service/api"]);
    let selector = service(&green, "api").spec.unwrap().selector.unwrap();
    assert_eq!(selector["akidb-gen/color"], "green");
    assert_eq!(
        render("blue", true),
        blue,
        "rolling back is the same render"
    );
}

#[test]
fn an_active_colour_that_does_not_run_or_a_second_image_is_refused() {
    let err = std::panic::catch_unwind(|| render("green", false))
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(
        err.contains("blue_green.active") && err.contains("blue_green.green is not defined"),
        "{err}"
    );
    let yaml = "namespace: bg\ncomponents:\n  api:\n    akidb_embed:\n      image: {tag: 0.3.0}\n      blue_green: {active: blue, blue: {}}\n";
    let err = load_str(yaml, "bg.yaml").unwrap_err().to_string();
    assert!(
        err.contains("components.api.akidb_embed.image")
            && err.contains("each colour pins its own image"),
        "{err}"
    );
}
