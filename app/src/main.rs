//! `akidb-embed`: the sentence-embedding server.

use std::path::PathBuf;
use std::process::ExitCode;

use app::server::{self, settings, threads};
use app::{Config, ModelId, env_vars, pull};
use clap::{Parser, Subcommand};

/// Sentence-embedding HTTP server (candle, CPU).
///
/// Reads its configuration from a TOML file; AKIDB_* environment variables override it.
/// Without a file every key takes its default and the server loads all-MiniLM-L6-v2 from
/// AKIDB_MODEL_DIR (default /models). `akidb-embed models pull` fetches the models first.
#[derive(Debug, Parser)]
#[command(name = "akidb-embed", version, about, long_about)]
struct Args {
    /// Configuration file (TOML).
    ///
    /// Every key is optional; unknown keys and bad values stop the server with a message
    /// naming them. See docs/configuration.md.
    #[arg(long, global = true, env = env_vars::CONFIG, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the effective configuration (file plus environment) as TOML and exit.
    #[arg(long)]
    print_config: bool,

    /// Print the OpenAPI document of the HTTP API (as served at /openapi.json) and exit.
    #[arg(long)]
    print_openapi: bool,

    /// Print the container image's layout (binary path, user, folders, ports) as KEY=value
    /// lines and exit.
    ///
    /// `make image` builds the image from these, so it matches what the manifests expect.
    #[arg(long)]
    print_image_layout: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the model folder.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Fetch models from a Hugging Face-compatible hub into embedding.model_dir.
    ///
    /// Each model comes from the repository and pinned commit of hub.models.<id>; every
    /// file is checked against the digest the hub announces and any pinned sha256, staged
    /// beside the model folder and published by a rename, so a failure leaves no
    /// half-written folder. A model already pulled and verified is not fetched again.
    /// The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN authenticates
    /// to it for gated or private models.
    Pull {
        /// Models to pull. Default: embedding.preload_models.
        #[arg(value_name = "MODEL")]
        models: Vec<ModelId>,
    },
}

fn print_chain(err: &dyn std::error::Error) {
    eprintln!("akidb-embed: error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        // thiserror messages already embed their source; print only new information.
        if !err.to_string().contains(&s.to_string()) {
            eprintln!("  caused by: {s}");
        }
        source = s.source();
    }
}

fn init_logging(config: &Config) {
    let filter = std::env::var(env_vars::RUST_LOG)
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| {
            tracing_subscriber::EnvFilter::new(config.observability.log_level.as_str())
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.observability.log_format {
        app::config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        app::config::LogFormat::Text => builder.init(),
    }
}

fn pull_models(config: &Config, models: &[ModelId]) -> ExitCode {
    let endpoint = match pull::Endpoint::from_env(|k| std::env::var(k).ok()) {
        Ok(e) => e,
        Err(e) => {
            print_chain(&e);
            return ExitCode::from(2);
        }
    };
    let models = if models.is_empty() {
        config.embedding.preload_models.clone()
    } else {
        models.to_vec()
    };
    match pull::pull(config, &models, &endpoint) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "pull failed");
            print_chain(&e);
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_openapi {
        print!("{}", server::openapi::json());
        return ExitCode::SUCCESS;
    }
    if args.print_image_layout {
        // The defaults, not this process's file or environment: the image is built once
        // for every configuration.
        for (key, value) in app::container::image_layout(&Config::default()) {
            println!("{key}={value}");
        }
        return ExitCode::SUCCESS;
    }
    let config = match settings::load(args.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            print_chain(&e);
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        print!("{}", config.to_toml_string());
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Models(ModelsCommand::Pull { models })) = args.command {
        init_logging(&config);
        return pull_models(&config, &models);
    }
    // Before any thread exists: re-executes with RAYON_NUM_THREADS set from the cgroup.
    if let Err(e) = threads::reexec_with_thread_env() {
        eprintln!("akidb-embed: warning: could not set the compute thread count: {e}");
    }
    init_logging(&config);
    let api_keys = match server::auth::ApiKeys::load(&config.auth, |k| std::env::var(k).ok()) {
        Ok(k) => k,
        Err(e) => {
            print_chain(&e);
            return ExitCode::from(2);
        }
    };
    let (n, _) = threads::decide();
    let source =
        std::env::var(threads::THREAD_SOURCE_VAR).unwrap_or_else(|_| "RAYON_NUM_THREADS".into());
    tracing::info!(
        threads = n,
        source = %source,
        simd = server::simd::instructions(),
        version = env!("CARGO_PKG_VERSION"),
        "starting"
    );

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            print_chain(&e);
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server::run(config, n, api_keys));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "stopped");
            print_chain(&e);
            ExitCode::FAILURE
        }
    }
}
