//! Which queue write comes next: the newest target per direction against what the router holds, past
//! the deadband, decreases first. Pure: no I/O, no clock.

use std::collections::HashMap;

use super::{config::QueueMap, wire::MaxLimit};
use crate::{
    config::Bandwidth,
    signal::{Direction, PerDirection},
};

/// One PATCH: a queue, its new full `max-limit`, and the directions whose targets it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub queue: super::config::QueueRef,
    pub limit: MaxLimit,
    pub directions: Vec<Direction>,
    /// Some direction goes down (or the router's value is unknown): the limiter lets it go first.
    pub decrease: bool,
}

/// What comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing to write: every target is on the router or within the deadband.
    Idle,
    /// The router's current limits are unknown (start, or a simple queue's other half): read them first.
    Refresh,
    Write(Write),
}

/// Targets and the router's state.
#[derive(Debug, Clone)]
pub struct Plan {
    queues: QueueMap,
    deadband_percent: f64,
    targets: PerDirection<Option<Bandwidth>>,
    on_router: HashMap<super::config::QueueRef, MaxLimit>,
}

impl Plan {
    /// An empty plan for `queues`.
    pub fn new(queues: QueueMap, deadband_percent: f64) -> Self {
        Self {
            queues,
            deadband_percent,
            targets: PerDirection::default(),
            on_router: HashMap::new(),
        }
    }

    /// Sets the newest target of `direction`.
    pub fn set_target(&mut self, direction: Direction, rate: Bandwidth) {
        *self.targets.get_mut(direction) = Some(rate);
    }

    /// Records what the router reported for `queue` (a GET or a PATCH reply).
    pub fn on_router(&mut self, queue: &super::config::QueueRef, limit: MaxLimit) {
        self.on_router.insert(queue.clone(), limit);
    }

    /// The rate the router holds for `direction`, if known.
    pub fn router_rate(&self, direction: Direction) -> Option<Bandwidth> {
        let queue = self.queues.get(direction)?;
        self.on_router.get(queue).map(|l| l.get(direction))
    }

    /// True when `direction` has a target that the router does not hold (beyond the deadband).
    pub fn needs_write(&self, direction: Direction) -> bool {
        if self.queues.get(direction).is_none() {
            return false;
        }
        let Some(target) = *self.targets.get(direction) else {
            return false;
        };
        match self.router_rate(direction) {
            None => true,
            Some(current) if current == target => false,
            Some(current) if current.bps() == 0 => true,
            Some(current) => {
                let diff = current.bps().abs_diff(target.bps()) as f64;
                diff * 100.0 >= self.deadband_percent * current.bps() as f64
            }
        }
    }

    /// The next write, decreases first, download before upload.
    pub fn next(&self) -> Next {
        let mut writes: Vec<Write> = Vec::new();
        for direction in Direction::ALL {
            if !self.needs_write(direction) {
                continue;
            }
            let Some(queue) = self.queues.get(direction) else {
                continue;
            };
            if writes.iter().any(|w| &w.queue == queue) {
                continue;
            }
            let Some(current) = self.on_router.get(queue).copied() else {
                return Next::Refresh;
            };
            // Every direction on this queue rides along: one PATCH carries both halves of a simple queue.
            let mut limit = current;
            let mut directions = Vec::new();
            let mut decrease = false;
            for d in Direction::ALL {
                if self.queues.get(d) != Some(queue) {
                    continue;
                }
                if let Some(target) = *self.targets.get(d) {
                    decrease |= target < current.get(d);
                    limit = limit.with(d, target);
                    directions.push(d);
                }
            }
            writes.push(Write {
                queue: queue.clone(),
                limit,
                directions,
                decrease,
            });
        }
        writes.sort_by_key(|w| !w.decrease);
        writes.into_iter().next().map_or(Next::Idle, Next::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shaper::routeros::config::QueueRef;

    fn mbit(n: u64) -> Bandwidth {
        Bandwidth::from_mbit(n)
    }

    fn trees() -> QueueMap {
        QueueMap {
            download: Some(QueueRef::Tree("dl".into())),
            upload: Some(QueueRef::Tree("ul".into())),
        }
    }

    #[test]
    fn unknown_router_state_is_read_before_writing() {
        let mut plan = Plan::new(trees(), 1.0);
        assert_eq!(plan.next(), Next::Idle);
        plan.set_target(Direction::Download, mbit(90));
        assert_eq!(plan.next(), Next::Refresh);
    }

    #[test]
    fn deadband_skips_small_changes_and_decreases_go_first() {
        let mut plan = Plan::new(trees(), 2.0);
        plan.on_router(&QueueRef::Tree("dl".into()), MaxLimit::Single(mbit(100)));
        plan.on_router(&QueueRef::Tree("ul".into()), MaxLimit::Single(mbit(20)));
        plan.set_target(Direction::Download, mbit(101));
        assert_eq!(plan.next(), Next::Idle, "1% is inside a 2% deadband");
        plan.set_target(Direction::Download, mbit(110));
        plan.set_target(Direction::Upload, mbit(15));
        let Next::Write(w) = plan.next() else {
            panic!("expected a write")
        };
        assert_eq!(w.directions, [Direction::Upload]);
        assert!(w.decrease);
        plan.on_router(&w.queue, w.limit);
        let Next::Write(w) = plan.next() else {
            panic!("expected a write")
        };
        assert_eq!((w.limit, w.decrease), (MaxLimit::Single(mbit(110)), false));
    }

    #[test]
    fn one_simple_queue_carries_both_directions_in_one_write() {
        let simple = QueueRef::Simple("wan".into());
        let queues = QueueMap {
            download: Some(simple.clone()),
            upload: Some(simple.clone()),
        };
        let mut plan = Plan::new(queues, 0.0);
        let before = MaxLimit::Pair {
            upload: mbit(20),
            download: mbit(100),
        };
        plan.on_router(&simple, before);
        plan.set_target(Direction::Download, mbit(80));
        plan.set_target(Direction::Upload, mbit(18));
        let Next::Write(w) = plan.next() else {
            panic!("expected a write")
        };
        assert_eq!(w.limit.to_wire(), "18000000/80000000");
        assert_eq!(w.directions, [Direction::Download, Direction::Upload]);
        plan.on_router(&simple, w.limit);
        assert_eq!(plan.next(), Next::Idle);
    }
}
