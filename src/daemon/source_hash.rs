//! A plain job's source digest, taken by the request decoder's sink as
//! the bytes arrive: the job writes through it, the result cache reads the
//! digest when it builds the key. Apart from both, so neither imports the
//! other for it.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use crate::store::digest::Hasher;
use crate::store::Digest;

/// The digest of a plain job's source, taken as its bytes arrive (see
/// `HashingSink`), so the key costs no second read of the source and no
/// pause of the event loop at the end.
#[derive(Clone, Default)]
pub struct SourceHash(Rc<RefCell<Hasher>>);

impl SourceHash {
    pub(super) fn digest(&self) -> Digest {
        std::mem::take(&mut *self.0.borrow_mut()).finish()
    }
}

/// The decoder's source sink, hashing what it writes.
pub struct HashingSink<W> {
    inner: W,
    hash: SourceHash,
}

impl<W> HashingSink<W> {
    pub fn new(inner: W, hash: SourceHash) -> Self {
        HashingSink { inner, hash }
    }
}

impl<W: Write> Write for HashingSink<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hash.0.borrow_mut().update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
