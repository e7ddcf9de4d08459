//! `repbook backup FILE` (from the running server) and `repbook restore FILE` (with the server stopped).

use std::path::Path;

use super::ClientArgs;
use super::client::{CliError, Client};
use super::output::local;
use super::table;

/// `repbook backup FILE`: fetched from the running server, written beside FILE and renamed into place, so
/// a half-written backup never carries the name.
pub async fn backup(data_dir: &Path, args: &ClientArgs, file: &Path) -> Result<(), CliError> {
    let client = Client::discover(data_dir, args)?;
    let bytes = client.get_bytes(&["backup"]).await?;
    let (header, _) = crate::store::backup::read_backup(file, &bytes).map_err(|e| local(e.to_string()))?;
    let partial = file.with_extension("partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&partial)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
        std::fs::rename(&partial, file)
    };
    write().map_err(|e| local(format!("cannot write {}: {e}", file.display())))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&header).unwrap_or_default());
    } else {
        println!(
            "Backed up {} records in {} trees (generation {}, {}) to {}.",
            header.records,
            header.trees,
            header.generation,
            header.created,
            table::printable(&file.display().to_string())
        );
    }
    Ok(())
}

/// `repbook restore FILE`: local, with the server stopped.
pub fn restore(data_dir: &Path, file: &Path) -> Result<(), CliError> {
    crate::secure::private_umask();
    let restored = crate::store::backup::restore(data_dir, file).map_err(|e| local(e.to_string()))?;
    let header = &restored.header;
    println!(
        "Restored {} records (generation {}, taken {}) into {}.",
        header.records,
        header.generation,
        header.created,
        table::printable(&data_dir.join("store").display().to_string())
    );
    if let Some(kept) = &restored.kept {
        println!(
            "The store it replaced is kept at {}; delete it once the server runs well.",
            table::printable(&kept.display().to_string())
        );
    }
    Ok(())
}
