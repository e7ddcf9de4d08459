//! `halo-sim --listen 127.0.0.1:0 [--seed FILE.json]`: serves the simulator and prints its URL.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "halo-sim",
    about = "Local simulator of Halo Cloud's Integrator API over an in-memory Bp Premier"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed JSON (sites, Bp users, locations, appointment types). Default: the bundled demo practice.
    #[arg(long)]
    seed: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            halo_sim::Seed::from_json(&text).map_err(anyhow::Error::msg)?
        }
        None => halo_sim::Seed::demo(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = halo_sim::serve(listener, seed)?;
    println!("{}", server.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
