//! Signals that start the drain.

use tokio::signal::unix::{SignalKind, signal};

/// Resolves with the signal's name on the first SIGTERM or SIGINT.
///
/// # Panics
/// Never in practice: installing a handler only fails outside a Tokio runtime.
pub async fn signal_received() -> &'static str {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
