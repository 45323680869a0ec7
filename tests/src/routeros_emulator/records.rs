//! Records as a freshly configured RouterOS v7 lists them (field names per the queue and firewall
//! docs; every value a string).

use super::state::{Record, State, s};

impl State {
    pub fn tree_record(name: &str, max_limit: &str) -> Record {
        let mut r = Record::new();
        for (k, v) in [
            ("name", name),
            ("parent", "global"),
            ("packet-mark", ""),
            ("queue", "default"),
            ("limit-at", "0"),
            ("max-limit", max_limit),
            ("priority", "8"),
            ("bucket-size", "0.1"),
            ("rate", "0"),
            ("packet-rate", "0"),
            ("bytes", "0"),
            ("packets", "0"),
            ("dropped", "0"),
            ("queued-bytes", "0"),
            ("queued-packets", "0"),
            ("borrows", "0"),
            ("lends", "0"),
            ("pcq-queues", "0"),
            ("disabled", "false"),
            ("invalid", "false"),
        ] {
            r.insert(k.into(), s(v));
        }
        r
    }

    pub fn simple_record(name: &str, max_limit: &str) -> Record {
        let mut r = Record::new();
        for (k, v) in [
            ("name", name),
            ("target", ""),
            ("parent", "none"),
            ("queue", "default-small/default-small"),
            ("limit-at", "0/0"),
            ("max-limit", max_limit),
            ("priority", "8/8"),
            ("rate", "0/0"),
            ("packet-rate", "0/0"),
            ("bytes", "0/0"),
            ("packets", "0/0"),
            ("dropped", "0/0"),
            ("queued-bytes", "0/0"),
            ("queued-packets", "0/0"),
            ("total-bytes", "0"),
            ("total-packets", "0"),
            ("total-dropped", "0"),
            ("disabled", "false"),
            ("dynamic", "false"),
            ("invalid", "false"),
        ] {
            r.insert(k.into(), s(v));
        }
        r
    }

    pub fn mangle_record(comment: &str, disabled: bool) -> Record {
        let mut r = Record::new();
        for (k, v) in [
            ("chain", "prerouting"),
            ("action", "mark-routing"),
            ("new-routing-mark", "to-wan2"),
            ("passthrough", "false"),
            ("comment", comment),
            ("disabled", if disabled { "true" } else { "false" }),
            ("bytes", "0"),
            ("packets", "0"),
            ("dynamic", "false"),
            ("invalid", "false"),
            ("log", "false"),
            ("log-prefix", ""),
        ] {
            r.insert(k.into(), s(v));
        }
        r
    }
}
