//! What wanctl created on a device, kept in `/run/wanctl/` (gone after a reboot, like the objects), so
//! `wanctl shaper remove` removes exactly that and never an operator's own qdiscs or IFB.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::CakeError;

/// Objects wanctl created for one WAN device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Devices whose root CAKE wanctl installed.
    pub cake_roots: Vec<String>,
    /// The IFB device, if wanctl created it.
    pub ifb: Option<String>,
    /// The WAN device's ingress qdisc (clsact), if wanctl added it.
    pub ingress_qdisc: bool,
    /// Priority of the redirect filter wanctl added on the WAN's ingress hook.
    pub redirect_prio: Option<u16>,
}

/// The directory of records (`WANCTL_RUN_DIR` overrides it, for tests).
pub fn run_dir() -> PathBuf {
    std::env::var_os("WANCTL_RUN_DIR").map_or_else(|| PathBuf::from("/run/wanctl"), PathBuf::from)
}

fn path(interface: &str) -> PathBuf {
    run_dir().join(format!("cake-{interface}.json"))
}

fn record_error(interface: &str, source: std::io::Error) -> CakeError {
    CakeError::Record {
        path: path(interface).display().to_string(),
        source,
    }
}

impl Created {
    /// Reads the record for `interface`; none yet means nothing created.
    pub fn load(interface: &str) -> Result<Self, CakeError> {
        match std::fs::read(path(interface)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                record_error(
                    interface,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(record_error(interface, e)),
        }
    }

    /// Writes (or, when empty, deletes) the record for `interface`.
    pub fn save(&self, interface: &str) -> Result<(), CakeError> {
        let file = path(interface);
        if *self == Self::default() {
            return match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(record_error(interface, e))
                }
                _ => Ok(()),
            };
        }
        std::fs::create_dir_all(run_dir()).map_err(|e| record_error(interface, e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| record_error(interface, std::io::Error::other(e)))?;
        std::fs::write(&file, json).map_err(|e| record_error(interface, e))
    }
}
