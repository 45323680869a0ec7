//! The rtnetlink requests CAKE needs, built by hand where rtnetlink 0.24 has no builder (it cannot set a
//! qdisc's kind or options, rust-netlink/rtnetlink#129). Every function returns the kernel's errno so the
//! caller can say what it means in context.

use futures::{StreamExt, TryStreamExt};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::{
    RouteNetlinkMessage,
    link::LinkAttribute,
    tc::{
        TcActionAttribute, TcActionMirrorOption, TcActionOption, TcAttribute,
        TcFilterMatchAllOption, TcFilterU32Option, TcHandle, TcMessage, TcOption, TcStats2,
        TcXstats,
    },
};

/// A kernel `tc` handle as one number (`major << 16 | minor`).
pub type Handle32 = u32;

/// The parent of the root qdisc (`TC_H_ROOT`).
pub const ROOT: Handle32 = 0xFFFF_FFFF;
/// The parent of the ingress/clsact qdisc (`TC_H_INGRESS`).
pub const INGRESS_PARENT: Handle32 = 0xFFFF_FFF1;
/// Filters on the ingress hook of either an `ingress` or a `clsact` qdisc (`ffff:fff2`).
pub const INGRESS_HOOK: Handle32 = 0xFFFF_FFF2;

/// A netlink failure: the kernel's errno (positive), or a transport problem (0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(*.errno, .text))]
pub struct NlError {
    pub errno: i32,
    pub text: String,
}

fn describe(errno: i32, text: &str) -> String {
    if errno == 0 {
        return text.to_string();
    }
    format!(
        "{} (errno {errno})",
        std::io::Error::from_raw_os_error(errno)
    )
}

impl From<rtnetlink::Error> for NlError {
    fn from(e: rtnetlink::Error) -> Self {
        match e {
            rtnetlink::Error::NetlinkError(m) => Self {
                errno: -m.raw_code(),
                text: m.to_string(),
            },
            other => Self {
                errno: 0,
                text: other.to_string(),
            },
        }
    }
}

/// A qdisc as the kernel reported it.
#[derive(Debug, Clone, Default)]
pub struct QdiscInfo {
    pub kind: String,
    pub handle: Handle32,
    pub parent: Handle32,
    /// The nested `TCA_OPTIONS` bytes (kinds netlink-packet-route does not know, such as cake).
    pub options: Option<Vec<u8>>,
    /// The nested `TCA_STATS_APP` bytes.
    pub app_stats: Option<Vec<u8>>,
    pub bytes: u64,
    pub packets: u32,
    pub drops: u32,
    pub backlog: u32,
    pub qlen: u32,
}

/// The connection wanctl's shaper owns.
#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    /// Opens a route netlink socket on the current tokio runtime.
    ///
    /// # Errors
    /// The socket could not be opened.
    pub fn connect() -> std::io::Result<Self> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Self { handle })
    }

    /// The index of device `name`, or `None` if it does not exist.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, NlError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) => {
                let e = NlError::from(e);
                if e.errno == libc::ENODEV {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The name of device `index`.
    pub async fn link_name(&self, index: u32) -> Result<Option<String>, NlError> {
        let mut links = self.handle.link().get().match_index(index).execute();
        let link = links.try_next().await.map_err(NlError::from)?;
        Ok(link.and_then(|l| {
            l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n),
                _ => None,
            })
        }))
    }

    /// Targeted `RTM_GETQDISC` of the qdisc attached at `parent` (ROOT or INGRESS_PARENT). The kernel
    /// answers a targeted get only through the echo path, hence `NLM_F_ECHO`.
    pub async fn qdisc_at(
        &self,
        ifindex: u32,
        parent: Handle32,
    ) -> Result<Option<QdiscInfo>, NlError> {
        let mut msg = TcMessage::with_index(ifindex as i32);
        msg.header.parent = TcHandle::from(parent);
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO;
        let mut found = None;
        match self
            .exchange(req, |m| {
                if let RouteNetlinkMessage::NewQueueDiscipline(q) = m {
                    found.get_or_insert(info(q));
                }
            })
            .await
        {
            Ok(()) => {}
            Err(e) if e.errno == libc::ENOENT || e.errno == libc::EINVAL => return Ok(None),
            Err(e) => return Err(e),
        }
        // A device's default root (pfifo_fast, noqueue, mq) has handle 0; it is nothing to adopt.
        Ok(found.filter(|q| q.handle != 0 || parent != ROOT))
    }

    /// Every qdisc of `ifindex` (dumps are not filtered by the kernel; filtered here).
    pub async fn qdiscs(&self, ifindex: u32) -> Result<Vec<QdiscInfo>, NlError> {
        let mut req =
            NetlinkMessage::from(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()));
        req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut out = Vec::new();
        self.exchange(req, |m| {
            if let RouteNetlinkMessage::NewQueueDiscipline(q) = m
                && q.header.index == ifindex as i32
            {
                out.push(info(q));
            }
        })
        .await?;
        Ok(out)
    }

    /// `RTM_NEWQDISC` with kind, handle, parent and options; `flags` chooses the verb (0 = change,
    /// CREATE|REPLACE = replace, CREATE|EXCL = add).
    pub async fn new_qdisc(
        &self,
        ifindex: u32,
        parent: Handle32,
        handle: Handle32,
        kind: &str,
        options: Option<Vec<TcOption>>,
        flags: u16,
    ) -> Result<(), NlError> {
        let req = new_qdisc_message(ifindex, parent, handle, kind, options, flags);
        self.exchange(req, |_| {}).await
    }

    /// `RTM_DELQDISC` of the qdisc at `parent` with `handle` (0 = whatever is there).
    pub async fn del_qdisc(
        &self,
        ifindex: u32,
        parent: Handle32,
        handle: Handle32,
    ) -> Result<(), NlError> {
        let mut msg = TcMessage::with_index(ifindex as i32);
        msg.header.parent = TcHandle::from(parent);
        msg.header.handle = TcHandle::from(handle);
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::DelQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        self.exchange(req, |_| {}).await
    }

    /// Creates IFB device `name` and sets it up; returns its index.
    pub async fn create_ifb(&self, name: &str) -> Result<u32, NlError> {
        self.handle
            .link()
            .add(rtnetlink::LinkIfb::new(name).build())
            .execute()
            .await?;
        let index = self.link_index(name).await?.ok_or_else(|| NlError {
            errno: libc::ENODEV,
            text: format!("{name} vanished after creation"),
        })?;
        self.set_up(index).await?;
        Ok(index)
    }

    /// Sets device `index` up.
    pub async fn set_up(&self, index: u32) -> Result<(), NlError> {
        self.handle
            .link()
            .set(rtnetlink::LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        Ok(())
    }

    /// Deletes device `index`.
    pub async fn del_link(&self, index: u32) -> Result<(), NlError> {
        self.handle.link().del(index).execute().await?;
        Ok(())
    }

    /// `tc filter add dev <ifindex> ingress prio <prio> protocol all u32 match u32 0 0 action mirred egress
    /// redirect dev <target>`.
    pub async fn add_redirect(&self, ifindex: u32, prio: u16, target: u32) -> Result<(), NlError> {
        // The protocol goes into tcm_info in network byte order (ETH_P_ALL = 3).
        self.handle
            .traffic_filter(ifindex as i32)
            .add()
            .parent(INGRESS_HOOK)
            .priority(prio)
            .protocol((libc::ETH_P_ALL as u16).to_be())
            .redirect(target)?
            .execute()
            .await?;
        Ok(())
    }

    /// Deletes the ingress filters of `ifindex` with priority `prio`.
    pub async fn del_filter(&self, ifindex: u32, prio: u16) -> Result<(), NlError> {
        let mut msg = TcMessage::with_index(ifindex as i32);
        msg.header.parent = TcHandle::from(INGRESS_HOOK);
        msg.header.info = u32::from(prio) << 16;
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::DelTrafficFilter(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        self.exchange(req, |_| {}).await
    }

    /// Devices that ingress filters of `ifindex` redirect to with mirred (u32 or matchall filters).
    pub async fn ingress_redirect_targets(&self, ifindex: u32) -> Result<Vec<u32>, NlError> {
        let mut msg = TcMessage::with_index(ifindex as i32);
        msg.header.parent = TcHandle::from(INGRESS_HOOK);
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetTrafficFilter(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut targets = Vec::new();
        self.exchange(req, |m| {
            if let RouteNetlinkMessage::NewTrafficFilter(f) = m
                && f.header.index == ifindex as i32
            {
                targets.extend(mirred_targets(&f));
            }
        })
        .await?;
        Ok(targets)
    }

    async fn exchange(
        &self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        mut each: impl FnMut(RouteNetlinkMessage),
    ) -> Result<(), NlError> {
        let mut handle = self.handle.clone();
        let mut responses = handle.request(req)?;
        while let Some(message) = responses.next().await {
            match message.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(rtnetlink::Error::NetlinkError(e).into());
                }
                NetlinkPayload::InnerMessage(inner) => each(inner),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The `RTM_NEWQDISC` request `new_qdisc` sends (public to the crate for byte-level tests).
pub(crate) fn new_qdisc_message(
    ifindex: u32,
    parent: Handle32,
    handle: Handle32,
    kind: &str,
    options: Option<Vec<TcOption>>,
    flags: u16,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = TcMessage::with_index(ifindex as i32);
    msg.header.parent = TcHandle::from(parent);
    msg.header.handle = TcHandle::from(handle);
    msg.attributes.push(TcAttribute::Kind(kind.to_string()));
    if let Some(options) = options {
        msg.attributes.push(TcAttribute::Options(options));
    }
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    req
}

fn info(q: TcMessage) -> QdiscInfo {
    let mut out = QdiscInfo {
        handle: u32::from(q.header.handle),
        parent: u32::from(q.header.parent),
        ..QdiscInfo::default()
    };
    for attribute in q.attributes {
        match attribute {
            TcAttribute::Kind(kind) => out.kind = kind,
            TcAttribute::Options(options) => {
                for option in options {
                    if let TcOption::Other(nla) = option {
                        out.options = Some(nla_value(&nla));
                    }
                }
            }
            TcAttribute::Stats2(stats) => {
                for s in stats {
                    match s {
                        TcStats2::App(TcXstats::Other(bytes)) => out.app_stats = Some(bytes),
                        TcStats2::Basic(b) => {
                            out.bytes = b.bytes;
                            out.packets = b.packets;
                        }
                        TcStats2::Queue(q) => {
                            out.drops = q.drops;
                            out.backlog = q.backlog;
                            out.qlen = q.qlen;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn nla_value(nla: &netlink_packet_core::DefaultNla) -> Vec<u8> {
    use netlink_packet_core::Nla;
    let mut v = vec![0; nla.value_len()];
    nla.emit_value(&mut v);
    v
}

fn mirred_targets(filter: &TcMessage) -> Vec<u32> {
    let mut actions = Vec::new();
    for attribute in &filter.attributes {
        if let TcAttribute::Options(options) = attribute {
            for option in options {
                match option {
                    TcOption::U32(TcFilterU32Option::Action(a)) => actions.extend(a.iter()),
                    TcOption::MatchAll(TcFilterMatchAllOption::Action(a)) => {
                        actions.extend(a.iter())
                    }
                    _ => {}
                }
            }
        }
    }
    let mut targets = Vec::new();
    for action in actions {
        for attribute in &action.attributes {
            if let TcActionAttribute::Options(options) = attribute {
                for option in options {
                    if let TcActionOption::Mirror(TcActionMirrorOption::Parms(p)) = option {
                        targets.push(p.ifindex);
                    }
                }
            }
        }
    }
    targets
}
