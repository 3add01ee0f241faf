//! What a protocol version means, decided once. The daemon decodes the
//! client's DIST number (distcc's `dcc_get_features_from_protover`), the
//! client derives it from a host's options (`dcc_get_protover_from_features`).
//! Everything else asks these questions; the number itself only goes into
//! the DIST and DONE tokens.

use super::{ProtoError, MAX_VERSION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// The number on the wire. DONE echoes it, so a client's 0 (taken like
    /// 1, as distccd does) stays 0.
    version: u32,
    compress: bool,
    cpp_on_server: bool,
}

impl Features {
    /// Protocol 1: the source preprocessed on the client, nothing compressed.
    pub const PLAIN: Features = Features {
        version: 1,
        compress: false,
        cpp_on_server: false,
    };
    /// Protocol 2: as 1, with LZO1X payloads.
    pub const LZO: Features = Features {
        version: 2,
        compress: true,
        cpp_on_server: false,
    };
    /// Protocol 3 (pump): LZO, and the server runs cpp on the client's files.
    pub const PUMP: Features = Features {
        version: 3,
        compress: true,
        cpp_on_server: true,
    };

    /// The daemon's reading of a DIST version: above 1 means LZO, above 2
    /// server-side cpp.
    pub fn from_version(version: u32) -> Result<Features, ProtoError> {
        if version > MAX_VERSION {
            return Err(ProtoError::BadVersion(version));
        }
        Ok(Features {
            version,
            compress: version > 1,
            cpp_on_server: version > 2,
        })
    }

    /// The client's choice for a host: `,lzo` gives 2, `,cpp` (with `,lzo`)
    /// gives 3, nothing gives 1.
    pub fn from_options(lzo: bool, cpp: bool) -> Features {
        match (lzo, cpp) {
            (_, true) => Features::PUMP,
            (true, false) => Features::LZO,
            (false, false) => Features::PLAIN,
        }
    }

    /// The same host with cpp run here: pump's plain-mode fallback.
    pub fn cpp_on_client(self) -> Features {
        if self.cpp_on_server {
            Features::LZO
        } else {
            self
        }
    }

    /// The number for DIST and DONE.
    pub fn version(self) -> u32 {
        self.version
    }

    /// DOTI, SERR, SOUT, DOTO and DOTD payloads are LZO1X-compressed.
    pub fn compress(self) -> bool {
        self.compress
    }

    /// The request carries the client's files (CDIR, NFIL...) instead of a
    /// preprocessed source, and the reply a DOTD after a success.
    pub fn cpp_on_server(self) -> bool {
        self.cpp_on_server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_from_the_dist_version() {
        assert_eq!(Features::from_version(1).unwrap(), Features::PLAIN);
        assert_eq!(Features::from_version(2).unwrap(), Features::LZO);
        assert_eq!(Features::from_version(3).unwrap(), Features::PUMP);
        let zero = Features::from_version(0).unwrap();
        assert!(!zero.compress() && !zero.cpp_on_server());
        assert_eq!(zero.version(), 0, "echoed back as sent");
        assert!(matches!(
            Features::from_version(4),
            Err(ProtoError::BadVersion(4))
        ));
    }

    #[test]
    fn derived_from_host_options() {
        assert_eq!(Features::from_options(false, false).version(), 1);
        assert_eq!(Features::from_options(true, false).version(), 2);
        assert_eq!(Features::from_options(true, true).version(), 3);
        assert_eq!(Features::PUMP.cpp_on_client(), Features::LZO);
        assert_eq!(Features::PLAIN.cpp_on_client(), Features::PLAIN);
    }
}
