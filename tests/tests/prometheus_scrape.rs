//! A real Prometheus (Debian's package) scrapes the real server on loopback the way the
//! generated ServiceMonitor describes it, with the generated rules loaded; traffic is sent;
//! then every recording rule, every alert expression and every dashboard query is
//! evaluated through Prometheus' HTTP API: each must evaluate without error and, unless it
//! reads a kube-state-metrics or cAdvisor series (listed below by name), return series.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use akidb_gen::monitoring::dashboard::RATE_INTERVAL;
use akidb_gen::monitoring::kube;
use akidb_gen::monitoring::rules;
use e2e::monitoring::{self, metrics_service};
use e2e::{http, minilm_dir, server_binary};
use serde_json::{Value, json};

/// Series no exporter on this machine provides: kube-state-metrics and the kubelet's
/// cAdvisor exist only in a cluster. Queries reading them must still evaluate.
const CLUSTER_ONLY: &[&str] = &[
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_last_terminated_reason",
    "kube_pod_container_resource_requests",
    "kube_pod_container_resource_limits",
    "kube_deployment_status_replicas_available",
    "kube_deployment_spec_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
];

/// What `$__rate_interval` stands for here: Grafana makes it at least four scrape
/// intervals; the test scrapes every second.
const TEST_RATE_INTERVAL: &str = "15s";

/// How long Prometheus may take to have every series the queries need.
const SCRAPE_LIMIT: Duration = Duration::from_secs(90);

/// A child process killed when the test ends; its log is printed if the test fails.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name} ({cmd:?}): {e}"));
        Process { name, child, log }
    }

    fn alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited early ({status})", self.name);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- {} log ({}) ---\n{log}", self.name, self.log.display());
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_200(process: &mut Process, port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        process.alive();
        if let Ok((200, _)) = http::get(port, path) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: GET :{port}{path} never answered 200",
            process.name
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_server(dir: &Path, port: u16, metrics_port: u16) -> Process {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[observability]\nmetrics_port = {metrics_port}\n"),
    )
    .unwrap();
    let models = minilm_dir().parent().unwrap().to_owned();
    let mut cmd = Command::new(server_binary());
    cmd.arg(app::container::CONFIG_FLAG)
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(app::env_vars::HOST, "127.0.0.1")
        .env(app::env_vars::REST_PORT, port.to_string())
        .env(app::env_vars::MODEL_DIR, models)
        .env(app::env_vars::RAYON_NUM_THREADS, "2")
        .current_dir(dir);
    let mut p = Process::start("akidb-embed", &mut cmd, dir.join("server.log"));
    wait_for_200(&mut p, port, app::routes::HEALTH_READY);
    p
}

/// A scrape job as the Prometheus Operator derives it from the ServiceMonitor: job = the
/// Service's name, the endpoint's path and scheme, and the target labels it adds.
fn prometheus_config(metrics_port: u16) -> Value {
    let objects = monitoring::objects();
    let service = metrics_service();
    let endpoint = &objects.service_monitor.spec.endpoints[0];
    assert_eq!(endpoint.port, service.port_name);
    let scope = monitoring::scope();
    json!({
        "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
        "rule_files": ["rules.yaml"],
        "scrape_configs": [{
            "job_name": service.job(),
            "metrics_path": endpoint.path,
            "scheme": endpoint.scheme,
            "static_configs": [{
                "targets": [format!("127.0.0.1:{metrics_port}")],
                "labels": {
                    kube::labels::NAMESPACE: service.namespace,
                    kube::labels::POD: "akidb-embed-0",
                    kube::labels::CONTAINER: scope.container,
                    "service": service.name,
                    "endpoint": endpoint.port,
                },
            }],
        }],
    })
}

fn start_prometheus(dir: &Path, metrics_port: u16) -> (Process, u16) {
    let rules = monitoring::objects().prometheus_rule.spec;
    std::fs::write(
        dir.join("rules.yaml"),
        serde_saphyr::to_string(&rules).unwrap(),
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        serde_saphyr::to_string(&prometheus_config(metrics_port)).unwrap(),
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new(monitoring::prometheus());
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir);
    let mut p = Process::start("prometheus", &mut cmd, dir.join("prometheus.log"));
    wait_for_200(&mut p, port, "/-/ready");
    (p, port)
}

fn api(port: u16, path: &str) -> Value {
    let (status, body) = http::get(port, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The instant result of `query`, or Prometheus' error.
fn query(port: u16, query: &str) -> Result<Vec<Value>, String> {
    let form = format!("query={}", http::form_encode(query));
    let (status, body) = http::post(
        port,
        "/api/v1/query",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{status}: {}", v["error"]));
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// Sends embedding traffic of every kind the charts show: two routes, a 400, a failed
/// on-demand model load (404) and an unknown path.
fn send_traffic(port: u16) {
    let json = "application/json";
    for i in 0..8 {
        let body =
            json!({ "texts": [format!("request {i} for the dashboard"), "and a second text"] });
        let (s, b) =
            http::post(port, app::routes::EMBED, json, body.to_string().as_bytes()).unwrap();
        assert_eq!(s, 200, "{b}");
        let body = json!({ "input": format!("openai request {i}") });
        let (s, b) = http::post(
            port,
            app::routes::OPENAI_EMBEDDINGS,
            json,
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(s, 200, "{b}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (s, b) = http::post(port, app::routes::EMBED, json, br#"{"texts": []}"#).unwrap();
    assert_eq!(s, 400, "{b}");
    let e5 = json!({ "texts": ["a"], "model": app::KnownModel::E5SmallV2.as_str() });
    let (s, b) = http::post(port, app::routes::EMBED, json, e5.to_string().as_bytes()).unwrap();
    assert_eq!(s, 404, "{b}");
    let (s, _) = http::get(port, "/no/such/route").unwrap();
    assert_eq!(s, 404);
}

/// A query the test evaluates, and whether it must return series.
struct Check {
    what: String,
    expr: String,
    needs_series: bool,
}

fn check(what: String, expr: String) -> Check {
    let needs_series = !CLUSTER_ONLY.iter().any(|s| expr.contains(s));
    Check {
        what,
        expr,
        needs_series,
    }
}

fn checks() -> Vec<Check> {
    let scope = monitoring::scope();
    let objectives = monitoring::objectives();
    let mut out = Vec::new();
    for r in rules::recording_rules(&scope, &objectives) {
        out.push(check(format!("recording rule {}", r.record), r.expr));
        out.push(check(
            format!("recorded series {}", r.record),
            scope.server().of(&r.record),
        ));
    }
    for a in rules::alerts(&scope, &objectives).unwrap() {
        out.push(check(format!("alert {} signal", a.name), a.signal.clone()));
        // The condition is false under healthy traffic, so the full expression must only
        // evaluate, not return series.
        out.push(Check {
            what: format!("alert {} expression", a.name),
            expr: a.expr(),
            needs_series: false,
        });
    }
    let board = akidb_gen::monitoring::dashboard::build(&scope, &objectives);
    for p in &board.panels {
        for t in &p.targets {
            out.push(check(
                format!("dashboard panel {:?} query {}", p.title, t.ref_id),
                t.expr.replace(RATE_INTERVAL, TEST_RATE_INTERVAL),
            ));
        }
    }
    out
}

#[test]
fn prometheus_scraping_the_real_server_answers_every_rule_and_chart() {
    // The exempt list names only series from outside the server, each one the rules or the
    // dashboard really use.
    let external: Vec<&str> = kube::ALL.iter().map(|(n, _)| *n).collect();
    for name in CLUSTER_ONLY {
        assert!(
            external.contains(name),
            "{name} is not a kube-state-metrics or cAdvisor series"
        );
    }
    let checks = checks();
    for name in CLUSTER_ONLY {
        assert!(
            checks.iter().any(|c| c.expr.contains(name)),
            "{name} is exempted but no rule or chart reads it"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let mut server = start_server(dir.path(), port, metrics_port);
    let (mut prometheus, prom) = start_prometheus(dir.path(), metrics_port);
    send_traffic(port);

    // Every rule loaded and healthy, the target scraped under the ServiceMonitor's job.
    let rules = api(prom, "/api/v1/rules");
    let loaded: usize = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_array().unwrap().len())
        .sum();
    let generated: usize = monitoring::objects()
        .prometheus_rule
        .spec
        .groups
        .iter()
        .map(|g| g.rules.len())
        .sum();
    assert_eq!(loaded, generated, "{rules}");

    let mut failing: Vec<String> = Vec::new();
    let deadline = Instant::now() + SCRAPE_LIMIT;
    while Instant::now() < deadline {
        server.alive();
        prometheus.alive();
        failing.clear();
        for c in &checks {
            match query(prom, &c.expr) {
                Err(e) => panic!("{} does not evaluate: {e}\n{}", c.what, c.expr),
                Ok(series) if c.needs_series && series.is_empty() => {
                    failing.push(format!("{} returned no series: {}", c.what, c.expr));
                }
                Ok(_) => {}
            }
        }
        if failing.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        failing.is_empty(),
        "after {SCRAPE_LIMIT:?} of scraping:\n{}\ntargets: {}",
        failing.join("\n"),
        api(prom, "/api/v1/targets")
    );

    let rules = api(prom, "/api/v1/rules");
    for g in rules["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(
                r["health"], "ok",
                "rule {} failed: {}",
                r["name"], r["lastError"]
            );
        }
    }
    let targets = api(prom, "/api/v1/targets");
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{targets}");
    assert_eq!(
        target["labels"]["job"],
        metrics_service().job(),
        "{targets}"
    );

    // The traffic shows up as sent: 16 texts on the native route, 8 on the OpenAI one.
    let texts = format!(
        "sum({})",
        monitoring::scope()
            .server()
            .of(&app::metrics::EMBEDDED_TEXTS.total())
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = query(prom, &texts).unwrap();
        if result.first().map(|r| &r["value"][1]) == Some(&json!("24")) {
            break;
        }
        assert!(Instant::now() < deadline, "{texts}: {result:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
