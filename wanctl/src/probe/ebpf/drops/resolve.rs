//! Resolves what the tracepoint program needs from the running kernel's BTF: the values of the qdisc drop
//! reasons, the positions of the `kfree_skb` tracepoint arguments, and the struct offsets on the path
//! `skb->dev->ifindex` / `skb->dev->nd_net.net->ns.inum`.
//!
//! `enum skb_drop_reason` is not a stable ABI: reasons are inserted in the middle between releases, so
//! values are looked up by name on every load, never compiled in.

use wanctl_common::drops::{DropConfig, REASON_UNRESOLVED};

use super::{
    DropReasonClass,
    btf::{Btf, Kind},
};

/// Argument positions the program reads (`wanctl-ebpf/src/drops.rs`), checked against the kernel's prototype.
const ARG_SKB: usize = 0;
const ARG_REASON: usize = 2;

/// Why qdisc drop counting is not available on this kernel. Not an error: older kernels simply lack it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error(
        "the kernel exposes no BTF (/sys/kernel/btf/vmlinux: {0}); needs CONFIG_DEBUG_INFO_BTF"
    )]
    NoKernelBtf(String),
    #[error("the kernel has no `enum skb_drop_reason` (drop reasons arrived in Linux 5.17)")]
    NoDropReasons,
    #[error(
        "the kernel's `enum skb_drop_reason` has no qdisc reasons (SKB_DROP_REASON_QDISC_DROP and later)"
    )]
    NoQdiscReasons,
    #[error("the kernel has no BTF tracepoint `kfree_skb` (typedef `btf_trace_kfree_skb`)")]
    NoTracepoint,
    #[error("the kfree_skb tracepoint's arguments are not (skb, location, reason, ...): {0}")]
    UnexpectedPrototype(String),
    #[error("the kernel's BTF has no byte-aligned member `{member}` in `struct {structure}`")]
    MissingMember {
        structure: &'static str,
        member: &'static str,
    },
}

/// Resolves the full program configuration, with `enabled` set.
///
/// Classes the kernel does not know stay [`REASON_UNRESOLVED`]; at least one must resolve.
///
/// # Errors
/// [`Unavailable`] naming the first missing piece.
pub fn resolve(btf: &Btf) -> Result<DropConfig, Unavailable> {
    let reasons = resolve_reasons(btf)?;
    check_prototype(btf)?;
    let skb = btf
        .find("sk_buff", Kind::Struct)
        .ok_or(Unavailable::MissingMember {
            structure: "sk_buff",
            member: "(the struct itself)",
        })?;
    let (skb_dev, dev_ptr) = member(btf, skb, "sk_buff", "dev")?;
    let (skb_len, _) = member(btf, skb, "sk_buff", "len")?;
    let dev = pointee_struct(btf, dev_ptr, "sk_buff", "dev")?;
    let (dev_ifindex, _) = member(btf, dev, "net_device", "ifindex")?;
    // `nd_net` is `possible_net_t`, a typedef of a struct holding `struct net *net`.
    let (nd_net, possible_net) = member(btf, dev, "net_device", "nd_net")?;
    let (net_in_possible, net_ptr) = member(btf, possible_net, "possible_net_t", "net")?;
    let net = pointee_struct(btf, net_ptr, "possible_net_t", "net")?;
    let (ns, ns_common) = member(btf, net, "net", "ns")?;
    let (inum, _) = member(btf, ns_common, "ns_common", "inum")?;
    Ok(DropConfig {
        reasons,
        skb_dev,
        skb_len,
        dev_ifindex,
        dev_net: nd_net + net_in_possible,
        net_inum: ns + inum,
        enabled: 1,
    })
}

/// The value of each class's reason, or [`REASON_UNRESOLVED`].
fn resolve_reasons(btf: &Btf) -> Result<[u32; 4], Unavailable> {
    let id = btf
        .find("skb_drop_reason", Kind::Enum)
        .or_else(|| btf.find("skb_drop_reason", Kind::Enum64))
        .ok_or(Unavailable::NoDropReasons)?;
    let mut reasons = [REASON_UNRESOLVED; 4];
    for class in DropReasonClass::ALL {
        if let Some(value) = btf
            .enum_value(id, class.kernel_name())
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v != REASON_UNRESOLVED)
        {
            reasons[class.index()] = value;
        }
    }
    if reasons.iter().all(|&r| r == REASON_UNRESOLVED) {
        return Err(Unavailable::NoQdiscReasons);
    }
    Ok(reasons)
}

/// The BTF tracepoint's context is its prototype minus the leading `void *__data`; the program reads
/// `skb` and `reason` at fixed positions, so the kernel's order must match.
fn check_prototype(btf: &Btf) -> Result<(), Unavailable> {
    let typedef = btf
        .find("btf_trace_kfree_skb", Kind::Typedef)
        .ok_or(Unavailable::NoTracepoint)?;
    let params = btf
        .pointee(btf.skip_modifiers(typedef))
        .and_then(|proto| btf.params(proto))
        .ok_or(Unavailable::NoTracepoint)?;
    let args = params.get(1..).unwrap_or_default();
    let describe = || {
        args.iter()
            .map(|&t| {
                let t = btf.skip_modifiers(t);
                match btf.pointee(t) {
                    Some(p) => format!("{} *", btf.name(btf.skip_modifiers(p))),
                    None => btf.name(t).into_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let skb_ok = args
        .get(ARG_SKB)
        .and_then(|&t| btf.pointee(btf.skip_modifiers(t)))
        .is_some_and(|p| btf.name(btf.skip_modifiers(p)) == "sk_buff");
    let reason_ok = args.get(ARG_REASON).is_some_and(|&t| {
        let t = btf.skip_modifiers(t);
        matches!(btf.kind(t), Some(Kind::Enum | Kind::Enum64)) && btf.name(t) == "skb_drop_reason"
    });
    if skb_ok && reason_ok {
        Ok(())
    } else {
        Err(Unavailable::UnexpectedPrototype(describe()))
    }
}

/// Byte offset and type of `structure.member`.
fn member(
    btf: &Btf,
    id: u32,
    structure: &'static str,
    name: &'static str,
) -> Result<(u32, u32), Unavailable> {
    let missing = Unavailable::MissingMember {
        structure,
        member: name,
    };
    let found = btf.member(id, name).ok_or(missing.clone())?;
    if found.bit_offset % 8 != 0 {
        return Err(missing);
    }
    Ok((found.bit_offset / 8, btf.skip_modifiers(found.type_id)))
}

/// The struct a pointer member points to.
fn pointee_struct(
    btf: &Btf,
    ptr: u32,
    structure: &'static str,
    name: &'static str,
) -> Result<u32, Unavailable> {
    btf.pointee(ptr)
        .map(|p| btf.skip_modifiers(p))
        // A forward declaration stands for the struct of the same name defined elsewhere in the BTF.
        .and_then(|p| match btf.kind(p) {
            Some(Kind::Struct) => Some(p),
            Some(Kind::Fwd) => btf.find(&btf.name(p), Kind::Struct),
            _ => None,
        })
        .ok_or(Unavailable::MissingMember {
            structure,
            member: name,
        })
}

#[cfg(test)]
mod tests;
