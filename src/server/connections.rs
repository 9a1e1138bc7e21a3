//! Which connections are open and which of them are idle, so that a full server can make room.
//!
//! At the connection limit a new connection takes the place of the connection that has been
//! idle longest (waiting for a request, its previous response fully written), as a browser's
//! or a proxy's pool would lose it to a keep-alive timeout anyway. Idle clients, however many,
//! therefore never lock out a health check or a user. Only when every open connection is busy
//! is the newcomer turned away.

use crate::metrics::ConnectionMetrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Every open connection, at most `limit` of them (plus those being evicted, which close at
/// once).
pub struct Connections {
    limit: usize,
    /// Ticks once each time a connection turns idle: orders connections by idleness.
    idle_clock: Arc<AtomicU64>,
    open: Mutex<Table>,
    metrics: ConnectionMetrics,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    connections: HashMap<u64, Arc<Connection>>,
    /// Open connections not being evicted: what counts against the limit.
    live: usize,
}

/// What one connection is doing, shared by its task, its I/O and its requests.
pub struct Connection {
    /// The idle clock's tick when the connection last turned idle; 0 while a request is in
    /// progress.
    idle_since: AtomicU64,
    /// The response body ended; the connection turns idle once that response is flushed.
    response_ended: AtomicBool,
    evicted: AtomicBool,
    /// Told when the connection should close to make room.
    evict: Notify,
    idle_clock: Arc<AtomicU64>,
}

/// What happens to a new connection.
pub enum Admission {
    /// Serve it; dropping the [`Slot`] gives its place back.
    Admitted(Slot),
    /// Every connection is busy: turn it away.
    Full,
}

/// A place in the table, held by a connection's task.
pub struct Slot {
    table: Arc<Connections>,
    id: u64,
    pub connection: Arc<Connection>,
}

impl Connections {
    pub fn new(limit: usize, metrics: ConnectionMetrics) -> Arc<Self> {
        metrics.limit.set(limit as i64);
        Arc::new(Connections {
            limit,
            idle_clock: Arc::new(AtomicU64::new(0)),
            open: Mutex::new(Table::default()),
            metrics,
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Gives a new connection a place, evicting the longest-idle one if the table is full.
    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut table = self.open.lock().expect("connection table lock");
        if table.live >= self.limit {
            let Some(victim) = table.longest_idle() else {
                self.metrics.refused.inc();
                return Admission::Full;
            };
            victim.evicted.store(true, Ordering::Relaxed);
            victim.evict.notify_one();
            table.live -= 1;
            self.metrics.evicted.inc();
        }
        let id = table.next_id;
        table.next_id += 1;
        let connection = Arc::new(Connection {
            idle_since: AtomicU64::new(0),
            response_ended: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
            idle_clock: self.idle_clock.clone(),
        });
        connection.became_idle();
        table.connections.insert(id, connection.clone());
        table.live += 1;
        self.metrics.open.set(table.connections.len() as i64);
        Admission::Admitted(Slot {
            table: self.clone(),
            id,
            connection,
        })
    }
}

impl Table {
    /// The connection idle longest that is not already being evicted.
    fn longest_idle(&self) -> Option<&Arc<Connection>> {
        self.connections
            .values()
            .filter(|c| !c.evicted.load(Ordering::Relaxed))
            .filter_map(|c| {
                let since = c.idle_since.load(Ordering::Acquire);
                (since > 0).then_some((since, c))
            })
            .min_by_key(|(since, _)| *since)
            .map(|(_, c)| c)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.table.open.lock().expect("connection table lock");
        if let Some(connection) = table.connections.remove(&self.id)
            && !connection.evicted.load(Ordering::Relaxed)
        {
            table.live -= 1;
        }
        self.table.metrics.open.set(table.connections.len() as i64);
    }
}

impl Connection {
    /// A request arrived: the connection is busy until its response is written.
    pub fn request_started(&self) {
        self.response_ended.store(false, Ordering::Release);
        self.idle_since.store(0, Ordering::Release);
    }

    /// The response's body ended (or was dropped); it may still sit in the write buffer.
    pub fn response_ended(&self) {
        self.response_ended.store(true, Ordering::Release);
    }

    /// The write buffer was flushed: if the response had ended, the connection is idle now.
    pub fn flushed(&self) {
        if self.response_ended.swap(false, Ordering::AcqRel) {
            self.became_idle();
        }
    }

    fn became_idle(&self) {
        let tick = self.idle_clock.fetch_add(1, Ordering::Relaxed) + 1;
        self.idle_since.store(tick, Ordering::Release);
    }

    /// Resolves when the connection was chosen to make room for a new one.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn admitted(table: &Arc<Connections>) -> Slot {
        match table.admit() {
            Admission::Admitted(slot) => slot,
            Admission::Full => panic!("turned away"),
        }
    }

    fn evicted(slot: &Slot) -> bool {
        slot.connection.evicted().now_or_never().is_some()
    }

    #[test]
    fn at_the_limit_the_longest_idle_connection_makes_room() {
        let metrics = ConnectionMetrics::default();
        let table = Connections::new(2, metrics.clone());
        let (first, second) = (admitted(&table), admitted(&table));
        let third = admitted(&table);
        assert!(evicted(&first) && !evicted(&second));
        // The evicted connection no longer counts, and is not chosen twice.
        drop(first);
        assert_eq!(metrics.open.get(), 2);
        let fourth = admitted(&table);
        assert!(evicted(&second) && !evicted(&third));
        assert_eq!(metrics.evicted.get(), 2);
        drop((second, fourth));
    }

    #[test]
    fn busy_connections_are_never_evicted_and_turn_idle_once_their_response_is_written() {
        let metrics = ConnectionMetrics::default();
        let table = Connections::new(2, metrics.clone());
        let (first, second) = (admitted(&table), admitted(&table));
        first.connection.request_started();
        second.connection.request_started();
        assert!(matches!(table.admit(), Admission::Full));
        // The response ended but still sits in the write buffer: not idle yet.
        second.connection.response_ended();
        assert!(matches!(table.admit(), Admission::Full));
        assert_eq!(metrics.refused.get(), 2);
        second.connection.flushed();
        let third = admitted(&table);
        assert!(evicted(&second) && !evicted(&first));
        // A closed connection frees its place without evicting anyone.
        drop(first);
        let _fourth = admitted(&table);
        assert!(!evicted(&third));
        assert_eq!(metrics.evicted.get(), 1);
    }
}
