//! The per-WAN prober: sends echo requests round-robin to the active reflectors at the configured rate,
//! matches replies, enforces the deadline, feeds reflector health, and hands samples to the controller.

use std::{
    collections::{HashMap, VecDeque},
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    time::Duration,
};

use tokio::sync::{mpsc, watch};

use super::{
    ActiveProbeConfig,
    health::{HealthEvent, HealthParams, ReflectorSet},
    median::reflector_flow,
    packet::{self, Family, Ignored},
    snapshot::{IgnoredPackets, ReflectorHealth},
    socket::{Binding, IcmpSocket, SocketError},
};
use crate::clock::monotonic_now;
use crate::signal::{RttSample, SampleKind, Timestamp};

/// How many answered-too-late sequence numbers are remembered, to tell late replies from foreign ones.
const EXPIRED_MEMORY: usize = 64;

/// A probe waiting for its reply.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    reflector: IpAddr,
    sent_at: Timestamp,
}

/// An echo request ready to go out.
struct PendingProbe {
    target: IpAddr,
    key: (Family, u16),
    packet: [u8; packet::ECHO_LEN],
}

/// What reply matching needs to know about the socket a packet came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Endpoint {
    pub family: Family,
    /// The echo identifier our replies carry on this socket.
    pub id: u16,
    /// Received packets start with the IPv4 header (raw IPv4 sockets).
    pub ip_header: bool,
}

impl From<&IcmpSocket> for Endpoint {
    fn from(s: &IcmpSocket) -> Self {
        Self {
            family: s.info().family,
            id: s.id(),
            ip_header: s.includes_ip_header(),
        }
    }
}

/// The prober's state apart from its sockets, so socket futures and state can be borrowed separately.
pub(super) struct ProberState {
    pub wan: String,
    pub set: ReflectorSet,
    deadline: Duration,
    cookie: u64,
    seq: u16,
    outstanding: HashMap<(Family, u16), Outstanding>,
    expired: VecDeque<(Family, u16)>,
    ignored: IgnoredPackets,
    send_errors: u64,
    samples_dropped: u64,
}

impl ProberState {
    pub fn new(wan: &str, config: &ActiveProbeConfig) -> Self {
        Self {
            wan: wan.to_string(),
            set: ReflectorSet::new(
                HealthParams::from(config),
                &config.reflectors,
                &config.spares,
            ),
            deadline: config.deadline.get(),
            cookie: RandomState::new().hash_one(wan),
            seq: 0,
            outstanding: HashMap::new(),
            expired: VecDeque::new(),
            ignored: IgnoredPackets::default(),
            send_errors: 0,
            samples_dropped: 0,
        }
    }

    /// Counts probes past their deadline as lost.
    fn expire(&mut self, now: Timestamp) {
        let deadline = self.deadline;
        let late: Vec<(Family, u16)> = self
            .outstanding
            .iter()
            .filter(|(_, p)| now.saturating_since(p.sent_at) > deadline)
            .map(|(k, _)| *k)
            .collect();
        for key in late {
            if let Some(p) = self.outstanding.remove(&key) {
                self.set.record_loss(p.reflector, now);
                self.remember_expired(key);
            }
        }
    }

    fn remember_expired(&mut self, key: (Family, u16)) {
        if self.expired.len() == EXPIRED_MEMORY {
            self.expired.pop_front();
        }
        self.expired.push_back(key);
    }

    /// Picks the next reflector and builds its echo request; `id_of` gives the echo identifier of the
    /// family's socket (`None` when there is no socket for that family).
    fn next_probe(&mut self, id_of: impl Fn(Family) -> Option<u16>) -> Option<PendingProbe> {
        let target = self.set.next_target()?;
        let family = Family::of(&target);
        let id = id_of(family)?;
        self.seq = self.seq.wrapping_add(1);
        Some(PendingProbe {
            target,
            key: (family, self.seq),
            packet: packet::echo_request(family, id, self.seq, self.cookie),
        })
    }

    /// Starts the probe's deadline, or counts it lost at once when it could not be sent.
    fn probe_sent(&mut self, probe: &PendingProbe, at: Timestamp, sent: std::io::Result<()>) {
        match sent {
            Ok(()) => {
                let outstanding = Outstanding {
                    reflector: probe.target,
                    sent_at: at,
                };
                self.outstanding.insert(probe.key, outstanding);
            }
            Err(e) => {
                // Unsent is as bad as unanswered for the reflector's health (it is the path that fails).
                self.send_errors += 1;
                self.set.record_loss(probe.target, at);
                tracing::debug!(wan = %self.wan, reflector = %probe.target, error = %e, "probe not sent");
            }
        }
    }

    /// Sends the next probe on the socket of its reflector's family.
    fn send_next(&mut self, v4: Option<&IcmpSocket>, v6: Option<&IcmpSocket>) {
        let socket_of = |family| match family {
            Family::V4 => v4,
            Family::V6 => v6,
        };
        let Some(probe) = self.next_probe(|f| socket_of(f).map(IcmpSocket::id)) else {
            return;
        };
        let Some(socket) = socket_of(probe.key.0) else {
            return;
        };
        let at = monotonic_now();
        let sent = socket.send(probe.target, &probe.packet);
        self.probe_sent(&probe, at, sent);
    }

    /// Matches one received packet; returns the sample it completes, if any.
    pub fn on_packet(
        &mut self,
        endpoint: Endpoint,
        data: &[u8],
        from: Option<IpAddr>,
        now: Timestamp,
    ) -> Option<RttSample> {
        let family = endpoint.family;
        let reply = match packet::parse_reply(family, endpoint.ip_header, data) {
            Ok(reply) => reply,
            Err(Ignored::Truncated | Ignored::BadChecksum) => {
                self.ignored.malformed += 1;
                return None;
            }
            Err(Ignored::NotIcmp | Ignored::NotEchoReply(_)) => {
                self.ignored.not_reply += 1;
                return None;
            }
        };
        if reply.id != endpoint.id || reply.cookie != self.cookie {
            self.ignored.foreign += 1;
            return None;
        }
        let key = (family, reply.seq);
        let Some(probe) = self.outstanding.get(&key).copied() else {
            if self.expired.contains(&key) {
                self.ignored.late += 1;
            } else {
                self.ignored.foreign += 1;
            }
            return None;
        };
        if from != Some(probe.reflector) {
            self.ignored.foreign += 1;
            return None;
        }
        self.outstanding.remove(&key);
        let rtt = now.saturating_since(probe.sent_at);
        if rtt > self.deadline {
            // The expiry timer had not run yet; the deadline is the rule, not the timer.
            self.set.record_loss(probe.reflector, now);
            self.remember_expired(key);
            self.ignored.late += 1;
            return None;
        }
        self.set
            .record_reply(probe.reflector, rtt)
            .then(|| RttSample {
                at: now,
                rtt,
                kind: SampleKind::Active,
                flow: reflector_flow(probe.reflector),
                peer_tsval: None,
            })
    }

    /// One tick: expire, apply health rules, send the next probe.
    pub fn tick(&mut self, now: Timestamp, v4: Option<&IcmpSocket>, v6: Option<&IcmpSocket>) {
        self.expire(now);
        for event in self.set.evaluate(now) {
            log_event(&self.wan, event);
        }
        self.send_next(v4, v6);
    }

    pub fn count_dropped_sample(&mut self) {
        self.samples_dropped += 1;
    }

    pub fn snapshot(&mut self, now: Timestamp, sockets: &[&IcmpSocket]) -> ReflectorHealth {
        let mut health = self.set.snapshot(now);
        health.send_errors = self.send_errors;
        health.ignored = self.ignored;
        health.samples_dropped = self.samples_dropped;
        health.sockets = sockets.iter().map(|s| s.info()).collect();
        health
    }
}

fn log_event(wan: &str, event: HealthEvent) {
    match event {
        HealthEvent::Replaced { old, new, fault } => {
            tracing::warn!(wan, %old, %new, ?fault, "reflector replaced by a spare");
        }
        HealthEvent::Withheld { reflector, fault } => {
            tracing::warn!(wan, %reflector, ?fault, "reflector distrusted, and no spare is left");
        }
        HealthEvent::Restored { reflector } => {
            tracing::info!(wan, %reflector, "reflector trusted again");
        }
    }
}

/// Opens the sockets the configured reflectors need.
pub(super) fn open_sockets(
    config: &ActiveProbeConfig,
    raw_id: u16,
) -> Result<(Option<IcmpSocket>, Option<IcmpSocket>), SocketError> {
    let all = || config.reflectors.iter().chain(&config.spares);
    let open = |family: Family, source: Option<IpAddr>| {
        let binding = Binding {
            device: config.device.clone(),
            source,
            fwmark: config.fwmark,
        };
        IcmpSocket::open(family, &binding, raw_id)
    };
    let v4 = all()
        .any(IpAddr::is_ipv4)
        .then(|| open(Family::V4, config.source_v4.map(IpAddr::V4)))
        .transpose()?;
    let v6 = all()
        .any(IpAddr::is_ipv6)
        .then(|| open(Family::V6, config.source_v6.map(IpAddr::V6)))
        .transpose()?;
    Ok((v4, v6))
}

/// Runs until `shutdown` resolves or the sample receiver is dropped.
pub(super) async fn run(
    mut state: ProberState,
    v4: Option<IcmpSocket>,
    v6: Option<IcmpSocket>,
    interval: Duration,
    samples: mpsc::Sender<RttSample>,
    health: watch::Sender<ReflectorHealth>,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sockets: Vec<&IcmpSocket> = v4.iter().chain(v6.iter()).collect();
    let mut buf4 = [0u8; 1500];
    let mut buf6 = [0u8; 1500];
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {
                let now = monotonic_now();
                state.tick(now, v4.as_ref(), v6.as_ref());
                health.send_replace(state.snapshot(now, &sockets));
                continue;
            }
            r = recv(v4.as_ref(), &mut buf4) => r.map(|(n, from)| (v4.as_ref(), &buf4[..n], from)),
            r = recv(v6.as_ref(), &mut buf6) => r.map(|(n, from)| (v6.as_ref(), &buf6[..n], from)),
        };
        let now = monotonic_now();
        match received {
            Ok((Some(socket), data, from)) => {
                if let Some(sample) = state.on_packet(socket.into(), data, from, now) {
                    match samples.try_send(sample) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => state.count_dropped_sample(),
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                    // Keeps the published counters in step with the samples handed out.
                    health.send_replace(state.snapshot(now, &sockets));
                }
            }
            Ok((None, ..)) => {}
            // ICMP errors queued on the socket (e.g. unreachable) surface here; the deadline handles the probe.
            Err(e) => {
                tracing::debug!(wan = %state.wan, error = %e, "receive error on probe socket")
            }
        }
    }
}

async fn recv(
    socket: Option<&IcmpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, Option<IpAddr>)> {
    match socket {
        Some(s) => s.recv(buf).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "prober_tests.rs"]
mod tests;
