//! Demo mode: a simulated SaaS API on loopback and a built-in config that exercises it.
//! (The demo config and timeline are filled in by the demo work.)

pub mod sim;

/// A running demo backend.
#[derive(Debug)]
pub struct Demo {
    /// The built-in config, pointed at the simulated API.
    pub config_text: String,
}

/// Starts the simulated API and returns the demo config that points at it.
pub async fn start() -> std::io::Result<Demo> {
    Err(std::io::Error::other("demo mode is not built yet"))
}
