//! Download shaping: the WAN's ingress redirected to an IFB, where CAKE (with `ingress`) shapes it. All
//! over netlink: the equivalent of `ip link add ifb4eth0 type ifb`, `tc qdisc add dev eth0 clsact` and `tc
//! filter add dev eth0 ingress protocol all prio P u32 match u32 0 0 action mirred egress redirect dev
//! ifb4eth0`.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};

use super::{
    error::CakeError,
    netlink::{INGRESS_PARENT, Netlink},
    qdisc::device_index,
    record::Created,
};

/// Priority of wanctl's redirect filter on the WAN's ingress hook; distinctive so removal finds only it.
pub const REDIRECT_PRIO: u16 = 49152;

/// Creates or adopts the IFB and the redirect; records what it created. Returns the IFB's index.
pub async fn ensure(
    nl: &Netlink,
    wan: &str,
    ifb: &str,
    created: &mut Created,
) -> Result<u32, CakeError> {
    let wan_index = device_index(nl, wan).await?;
    let ifb_index = match nl
        .link_index(ifb)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETLINK", ifb, e))?
    {
        Some(index) => {
            nl.set_up(index)
                .await
                .map_err(|e| CakeError::netlink("RTM_SETLINK up", ifb, e))?;
            index
        }
        None => {
            let index = nl
                .create_ifb(ifb)
                .await
                .map_err(|e| CakeError::netlink("RTM_NEWLINK ifb", ifb, e))?;
            created.ifb = Some(ifb.to_string());
            index
        }
    };
    let ingress = nl
        .qdisc_at(wan_index, INGRESS_PARENT)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETQDISC ingress", wan, e))?;
    if ingress.is_none() {
        nl.new_qdisc(
            wan_index,
            INGRESS_PARENT,
            0xFFFF_0000,
            "clsact",
            None,
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
        .map_err(|e| CakeError::netlink("RTM_NEWQDISC clsact", wan, e))?;
        created.ingress_qdisc = true;
    }
    let targets = redirect_targets(nl, wan, wan_index).await?;
    if !targets.contains(&ifb_index) {
        nl.add_redirect(wan_index, REDIRECT_PRIO, ifb_index)
            .await
            .map_err(|e| CakeError::netlink("RTM_NEWTFILTER u32 mirred redirect", wan, e))?;
        created.redirect_prio = Some(REDIRECT_PRIO);
    }
    Ok(ifb_index)
}

/// Indexes of the devices the WAN's ingress filters redirect to.
pub async fn redirect_targets(
    nl: &Netlink,
    wan: &str,
    wan_index: u32,
) -> Result<Vec<u32>, CakeError> {
    nl.ingress_redirect_targets(wan_index)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETTFILTER ingress", wan, e))
}

/// Removes what [`ensure`] created, newest first; missing objects are not an error.
pub async fn remove(nl: &Netlink, wan: &str, created: &mut Created) -> Result<(), CakeError> {
    let wan_index = nl
        .link_index(wan)
        .await
        .map_err(|e| CakeError::netlink("RTM_GETLINK", wan, e))?;
    if let (Some(prio), Some(index)) = (created.redirect_prio, wan_index) {
        ignore_missing(nl.del_filter(index, prio).await)
            .map_err(|e| CakeError::netlink("RTM_DELTFILTER", wan, e))?;
    }
    created.redirect_prio = None;
    if let (true, Some(index)) = (created.ingress_qdisc, wan_index) {
        ignore_missing(nl.del_qdisc(index, INGRESS_PARENT, 0xFFFF_0000).await)
            .map_err(|e| CakeError::netlink("RTM_DELQDISC clsact", wan, e))?;
    }
    created.ingress_qdisc = false;
    if let Some(ifb) = created.ifb.take()
        && let Some(index) = nl
            .link_index(&ifb)
            .await
            .map_err(|e| CakeError::netlink("RTM_GETLINK", &ifb, e))?
    {
        nl.del_link(index)
            .await
            .map_err(|e| CakeError::netlink("RTM_DELLINK", &ifb, e))?;
    }
    Ok(())
}

fn ignore_missing(r: Result<(), super::netlink::NlError>) -> Result<(), super::netlink::NlError> {
    match r {
        Err(e) if e.errno == libc::ENOENT || e.errno == libc::EINVAL || e.errno == libc::ENODEV => {
            Ok(())
        }
        other => other,
    }
}
