//! halo-sim: a local stand-in for Halo Cloud's Integrator API (the subset in
//! `shared/reference/halo-integrator-subset.json`) over in-memory Bp Premier databases, with per-site
//! fault injection and inspection routes under `/_sim/`. Used by repbook's tests and `repbook demo`.
//!
//! Every behaviour is written from `shared/reference/` alone: the simulator parses the T-SQL integrators
//! send (`tsql`), runs it against the documented Bp procedures (`bp`, `exec`) with SQL Server's errors
//! (`sql`), and reads no file of any connector.

mod api;
pub mod bp;
mod control;
mod exec;
pub mod seed;
mod sql;
mod state;
mod tsql;

/// For `make fuzz` (fuzz/): T-SQL text as integrators send it, through the simulator's parser.
#[doc(hidden)]
pub mod fuzzing {
    pub fn sql_batch(text: &str) {
        let _ = crate::tsql::parse_batch(text);
        let _ = crate::tsql::parse_procedure_name(text);
    }
}

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use seed::Seed;
pub use state::{Faults, Sim};

/// A running simulator.
pub struct SimServer {
    pub addr: SocketAddr,
    pub sim: Arc<Mutex<Sim>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the simulator on `listener` until the returned handle is dropped.
pub fn serve(listener: tokio::net::TcpListener, seed: Seed) -> std::io::Result<SimServer> {
    let addr = listener.local_addr()?;
    let sim = Arc::new(Mutex::new(Sim::new(seed)));
    let app = api::router(sim.clone()).merge(control::router(sim.clone()));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SimServer { addr, sim, task })
}
