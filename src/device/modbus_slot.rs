//! Who may talk Modbus TCP to the device (MB-02, MB-10) as a pure machine: the single client
//! slot and its idle limit. Device time comes in as an argument; the Modbus adapter numbers
//! its connections, asks this machine on every connect, complete request and close, and
//! stops the connection the machine evicts.
//!
//! The rule:
//! - One client at a time (MB-02): a connection is admitted when nobody holds the slot, or
//!   when the holder has been silent for the idle limit; any other connection is refused
//!   (the adapter closes it at once) and the holder keeps working.
//! - Only a complete request counts as activity ([`ClientSlot::request`]); connecting counts
//!   as the first activity.
//! - A holder without a complete request for the idle limit (MB-10, [`IDLE_LIMIT`]: 60 s of
//!   device time) has expired: its connection is to be closed at its deadline
//!   ([`ClientSlot::idle_deadline`]), and a client connecting after that takes the slot
//!   ([`Admit::evicted`] names the old holder, whose connection the adapter stops).
//! - A closed connection frees the slot at once ([`ClientSlot::disconnect`]); the close of
//!   an evicted connection frees nothing (the slot is the new holder's).
//! - `SlotRules::single_client = false` (a planted defect) admits every connection; each still
//!   has its own idle limit. A very long `idle_limit` (e.g. `Duration::MAX`) never expires.

use crate::time::{Duration, Instant};

/// A client without a complete request for this long loses the slot (MB-10).
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// A connection, numbered by the adapter (each number used once).
pub type ClientId = u64;

/// How the slot decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRules {
    /// One client at a time (`true`, MB-02); `false` admits every connection.
    pub single_client: bool,
    /// A client silent this long has expired (MB-10).
    pub idle_limit: Duration,
}

impl Default for SlotRules {
    /// The device's rules: one client, 60 s.
    fn default() -> Self {
        SlotRules {
            single_client: true,
            idle_limit: IDLE_LIMIT,
        }
    }
}

/// The answer to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Admitted: it holds the slot (or, with many clients allowed, a place of its own).
    Admit(Admit),
    /// Refused: another client holds the slot and has not been silent for the limit.
    Refuse {
        /// The holder's idle deadline: the earliest time a new client can get in if the
        /// holder stays silent.
        until: Instant,
    },
}

/// An admitted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admit {
    /// The holder that was silent for the limit and has lost the slot to this connection:
    /// its connection must be stopped.
    pub evicted: Option<ClientId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Client {
    id: ClientId,
    /// Device time of its last complete request (or of its connect).
    last: Instant,
}

/// The slot of one Modbus server: its holder (or, with `single_client` off, every client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSlot {
    rules: SlotRules,
    clients: Vec<Client>,
}

impl Default for ClientSlot {
    fn default() -> Self {
        ClientSlot::new(SlotRules::default())
    }
}

impl ClientSlot {
    /// A free slot deciding by `rules`.
    pub fn new(rules: SlotRules) -> Self {
        ClientSlot {
            rules,
            clients: Vec::new(),
        }
    }

    pub fn rules(&self) -> SlotRules {
        self.rules
    }

    fn deadline(&self, c: &Client) -> Instant {
        c.last.saturating_add(self.rules.idle_limit)
    }

    /// Connection `id` arrives at device time `now`.
    pub fn connect(&mut self, id: ClientId, now: Instant) -> Connect {
        let mut evicted = None;
        if self.rules.single_client {
            if let Some(holder) = self.clients.first() {
                let until = self.deadline(holder);
                if now < until {
                    return Connect::Refuse { until };
                }
                evicted = Some(holder.id);
            }
            self.clients.clear();
        }
        self.clients.retain(|c| c.id != id);
        self.clients.push(Client { id, last: now });
        Connect::Admit(Admit { evicted })
    }

    /// Connection `id` sent a complete request at `now`: its activity is refreshed. False
    /// when it holds no place (evicted or never admitted): it must not be answered.
    pub fn request(&mut self, id: ClientId, now: Instant) -> bool {
        match self.clients.iter_mut().find(|c| c.id == id) {
            Some(c) => {
                c.last = c.last.max(now);
                true
            }
            None => false,
        }
    }

    /// Connection `id` closed: its place is free (nothing changes if it had none).
    pub fn disconnect(&mut self, id: ClientId) {
        self.clients.retain(|c| c.id != id);
    }

    /// Whether `id` holds a place.
    pub fn holds(&self, id: ClientId) -> bool {
        self.clients.iter().any(|c| c.id == id)
    }

    /// When `id` expires if it stays silent (`None`: it holds no place).
    pub fn deadline_of(&self, id: ClientId) -> Option<Instant> {
        self.clients
            .iter()
            .find(|c| c.id == id)
            .map(|c| self.deadline(c))
    }

    /// Whether `id` has been silent for the idle limit at `now` (or holds no place): its
    /// connection is to be closed.
    pub fn expired(&self, id: ClientId, now: Instant) -> bool {
        self.deadline_of(id).is_none_or(|d| now >= d)
    }

    /// The earliest idle deadline of the clients held (`None`: the slot is free).
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(|c| self.deadline(c)).min()
    }

    /// Whether a connection arriving at `now` would be refused.
    pub fn busy(&self, now: Instant) -> bool {
        self.rules.single_client && self.idle_deadline().is_some_and(|d| now < d)
    }

    /// The clients holding a place, oldest first.
    pub fn holders(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.clients.iter().map(|c| c.id)
    }
}

#[cfg(test)]
#[path = "modbus_slot_tests.rs"]
mod tests;
