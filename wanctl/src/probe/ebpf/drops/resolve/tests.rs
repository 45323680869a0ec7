//! Resolution against fake kernels built as BTF: the values and offsets come from the fixture, so a
//! resolver that hard-coded any kernel's numbers would fail here.

use wanctl_common::drops::REASON_UNRESOLVED;

use super::{Unavailable, resolve};
use crate::probe::ebpf::drops::{DropReasonClass, btf::Btf, btf::fixture::BtfBuilder};

/// What a fake kernel has.
struct FakeKernel<'a> {
    /// `enum skb_drop_reason` enumerators; `None` for a kernel without drop reasons.
    reasons: Option<&'a [(&'a str, i32)]>,
    /// Tracepoint arguments after `void *__data`, by name: "skb", "location", "reason", "rx_sk".
    tracepoint: Option<&'a [&'a str]>,
    /// Whether `struct ns_common` has `inum`.
    has_inum: bool,
}

const MODERN_REASONS: &[(&str, i32)] = &[
    ("SKB_DROP_REASON_NOT_SPECIFIED", 2),
    ("SKB_DROP_REASON_QDISC_DROP", 31),
    ("SKB_DROP_REASON_QDISC_OVERLIMIT", 32),
    ("SKB_DROP_REASON_QDISC_CONGESTED", 33),
    ("SKB_DROP_REASON_CAKE_FLOOD", 34),
];
const MODERN_TRACEPOINT: &[&str] = &["skb", "location", "reason", "rx_sk"];

/// Byte offsets the fake kernel uses (deliberately unlike any real kernel's).
const SKB_DEV: u32 = 24;
const SKB_LEN: u32 = 112;
const DEV_IFINDEX: u32 = 220;
const DEV_ND_NET: u32 = 300;
const NET_NS: u32 = 152;
const NS_INUM: u32 = 24;

fn build(kernel: &FakeKernel<'_>) -> Btf {
    let mut b = BtfBuilder::new();
    let uint = b.int("unsigned int", 4);
    let int = b.int("int", 4);
    let void_ptr = b.ptr(0);

    let ns_common_members: &[(&str, u32, u32)] = if kernel.has_inum {
        &[("count", uint, 0), ("inum", uint, NS_INUM)]
    } else {
        &[("count", uint, 0)]
    };
    let ns_common = b.structure("ns_common", 32, ns_common_members);
    let net = b.structure("net", 512, &[("ns", ns_common, NET_NS)]);
    let net_ptr = b.ptr(net);
    let possible_net = b.structure("", 8, &[("net", net_ptr, 0)]);
    let possible_net_t = b.typedef("possible_net_t", possible_net);
    // sk_buff points at net_device through a forward declaration, as C headers often do.
    let dev_fwd = b.fwd("net_device");
    let dev_ptr = b.ptr(dev_fwd);
    b.structure(
        "net_device",
        1024,
        &[
            ("ifindex", int, DEV_IFINDEX),
            ("nd_net", possible_net_t, DEV_ND_NET),
        ],
    );
    let dev_union = b.union("", 8, &[("dev", dev_ptr, 0), ("dev_scratch", uint, 0)]);
    let list = b.structure("", 24, &[("next", void_ptr, 0), ("", dev_union, SKB_DEV)]);
    let head = b.union("", 24, &[("", list, 0)]);
    let skb = b.structure("sk_buff", 256, &[("", head, 0), ("len", uint, SKB_LEN)]);
    let skb_ptr = b.ptr(skb);

    let reason_type = kernel
        .reasons
        .map(|variants| b.enumeration("skb_drop_reason", variants));
    if let Some(args) = kernel.tracepoint {
        let mut params = vec![void_ptr];
        for arg in args {
            params.push(match *arg {
                "skb" => skb_ptr,
                "reason" => reason_type.unwrap_or(int),
                _ => void_ptr,
            });
        }
        let proto = b.func_proto(&params);
        let proto_ptr = b.ptr(proto);
        b.typedef("btf_trace_kfree_skb", proto_ptr);
    }
    Btf::parse(&b.build()).unwrap()
}

fn modern() -> FakeKernel<'static> {
    FakeKernel {
        reasons: Some(MODERN_REASONS),
        tracepoint: Some(MODERN_TRACEPOINT),
        has_inum: true,
    }
}

#[test]
fn resolves_reason_values_and_offsets_from_the_kernel_not_from_constants() {
    let config = resolve(&build(&modern())).unwrap();
    assert_eq!(config.enabled, 1);
    for (class, expected) in DropReasonClass::ALL.into_iter().zip([31, 32, 33, 34]) {
        assert_eq!(config.reasons[class.index()], expected, "{class:?}");
    }
    assert_eq!(config.skb_dev, SKB_DEV);
    assert_eq!(config.skb_len, SKB_LEN);
    assert_eq!(config.dev_ifindex, DEV_IFINDEX);
    assert_eq!(config.dev_net, DEV_ND_NET);
    assert_eq!(config.net_inum, NET_NS + NS_INUM);
}

#[test]
fn a_kernel_with_only_the_generic_qdisc_reason_counts_just_that_class() {
    // Linux 5.18 to 6.13: QDISC_DROP exists, the CAKE-era reasons do not; 3-argument tracepoint.
    let kernel = FakeKernel {
        reasons: Some(&[
            ("SKB_DROP_REASON_NOT_SPECIFIED", 2),
            ("SKB_DROP_REASON_QDISC_DROP", 40),
        ]),
        tracepoint: Some(&["skb", "location", "reason"]),
        has_inum: true,
    };
    let config = resolve(&build(&kernel)).unwrap();
    assert_eq!(config.reasons[DropReasonClass::QdiscDrop.index()], 40);
    for class in &DropReasonClass::ALL[1..] {
        assert_eq!(
            config.reasons[class.index()],
            REASON_UNRESOLVED,
            "{class:?}"
        );
    }
}

#[test]
fn a_kernel_whose_drop_reasons_predate_the_qdisc_ones_is_unavailable() {
    let kernel = FakeKernel {
        reasons: Some(&[
            ("SKB_DROP_REASON_NOT_SPECIFIED", 2),
            ("SKB_DROP_REASON_NO_SOCKET", 3),
        ]),
        ..modern()
    };
    assert_eq!(resolve(&build(&kernel)), Err(Unavailable::NoQdiscReasons));
}

#[test]
fn a_kernel_without_drop_reasons_is_unavailable() {
    // Before 5.17: no enum, and the tracepoint is (skb, location).
    let kernel = FakeKernel {
        reasons: None,
        tracepoint: Some(&["skb", "location"]),
        has_inum: true,
    };
    let err = resolve(&build(&kernel)).unwrap_err();
    assert_eq!(err, Unavailable::NoDropReasons);
    assert!(err.to_string().contains("5.17"), "{err}");
}

#[test]
fn a_reordered_or_missing_tracepoint_is_unavailable_not_misread() {
    let reordered = FakeKernel {
        tracepoint: Some(&["skb", "reason", "location"]),
        ..modern()
    };
    let err = resolve(&build(&reordered)).unwrap_err();
    assert!(
        matches!(&err, Unavailable::UnexpectedPrototype(found) if found.contains("sk_buff *")),
        "{err}"
    );
    let missing = FakeKernel {
        tracepoint: None,
        ..modern()
    };
    assert_eq!(resolve(&build(&missing)), Err(Unavailable::NoTracepoint));
}

#[test]
fn a_missing_struct_member_is_named() {
    let kernel = FakeKernel {
        has_inum: false,
        ..modern()
    };
    assert_eq!(
        resolve(&build(&kernel)),
        Err(Unavailable::MissingMember {
            structure: "ns_common",
            member: "inum"
        })
    );
}
