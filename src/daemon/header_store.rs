//! The daemon's side of the pump header store (doc/header-store.md):
//! opening it from the options, the trailer that tells tinydcc clients it
//! is there, and the answer to a store-form manifest (NEED). The store
//! itself is `crate::store::ContentStore`.

use std::path::{Path, PathBuf};

use crate::protocol::request::RequestDecoder;
use crate::protocol::store_form;
use crate::store::ContentStore;

use super::job::Prepared;

/// `--header-store-size` when not given: a kernel build's headers (about
/// 40 MB of them) several times over, small beside a board's TMPDIR.
pub const DEFAULT_SIZE: u64 = 256 << 20;

/// The directory used without `--header-store`: beside the job
/// directories, so blobs are hard-linked into them, not copied.
pub fn default_dir(tmp: &Path) -> PathBuf {
    tmp.join("tinydcc-headers")
}

/// Open the store `--header-store`/`--no-header-store` ask for, as the
/// user the daemon runs as. A store that cannot be opened is off, with
/// one warning: pump jobs then go as without it.
pub fn open(setting: &Option<(Option<PathBuf>, u64)>, tmp: &Path) -> Option<ContentStore> {
    let (dir, size) = setting.as_ref()?;
    let dir = dir.clone().unwrap_or_else(|| default_dir(tmp));
    match ContentStore::open(&dir, *size) {
        Ok(s) => {
            log::debug!(
                "header store in {}, up to {} MiB",
                dir.display(),
                size >> 20
            );
            Some(s)
        }
        Err(e) => {
            log::warn!(
                "header store {}: {}; pump clients will send every header",
                dir.display(),
                crate::errtext::reason(&e)
            );
            None
        }
    }
}

/// The version in the trailer: 0 when this daemon has no store.
pub fn version(store: Option<&ContentStore>) -> u32 {
    match store {
        Some(s) if s.is_on() => store_form::STORE_VERSION,
        _ => 0,
    }
}

/// The trailer after a reply with `features`: only protocol 3 gets one.
pub fn trailer(features: crate::protocol::Features, store: Option<&ContentStore>) -> Vec<u8> {
    if features.cpp_on_server() {
        store_form::trailer(version(store))
    } else {
        Vec::new()
    }
}

/// A store-form manifest is in: lay out what the store holds, tell the
/// decoder which contents to read, and return the NEED to send. A refused
/// job asks for nothing (its refusal is the answer); without a job
/// directory or a store, everything is asked for.
pub fn answer_need(
    dec: &mut RequestDecoder,
    job: Option<&mut Prepared>,
    refused: bool,
    store: Option<&mut ContentStore>,
    spares: Option<&mut super::spare_dirs::SpareDirs>,
) -> Vec<u8> {
    let n = dec.entries().len();
    let needed = match (job, refused) {
        (_, true) => vec![false; n],
        (Some(p), false) => {
            let cwd = dec.cwd().unwrap_or("/".as_ref()).to_owned();
            p.link_stored(&cwd, dec.entries(), store, spares)
        }
        (None, false) => vec![true; n],
    };
    dec.set_needed(&needed);
    store_form::encode_need(&needed)
}
