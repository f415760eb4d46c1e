//! The buyer's turn: one buy at a time, handed to the waiting candidate that matters most.
//! A listing that arrived while watching (a competitor is racing for it) goes before the
//! backlog (listed before the watch began, and still there); among equals, the one listed
//! first. A plain FIFO lock would make a fresh arrival wait behind the whole backlog.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Who goes first: higher is sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Priority {
    /// An arrival (not the backlog).
    pub(crate) arrival: bool,
    /// Listed earlier goes first (`Reverse` of the listing time; unknown times last).
    pub(crate) listed: Reverse<i64>,
}

impl Priority {
    pub(crate) fn new(backlog: bool, listed_at: Option<i64>) -> Priority {
        Priority {
            arrival: !backlog,
            listed: Reverse(listed_at.unwrap_or(i64::MAX)),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    busy: bool,
    seq: u64,
    /// (priority, first come first, the waiter).
    waiting: BinaryHeap<(Priority, Reverse<u64>, Waiter)>,
}

#[derive(Debug)]
struct Waiter(oneshot::Sender<()>);

impl PartialEq for Waiter {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// A lock granted by priority.
#[derive(Debug, Default)]
pub(crate) struct Turnstile {
    state: Mutex<State>,
}

/// Holding the turn; dropping it hands the turn on.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    of: &'a Turnstile,
}

impl Turnstile {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the turn.
    pub(crate) async fn acquire(&self, priority: Priority) -> Turn<'_> {
        let rx = {
            let mut s = self.lock();
            if !s.busy {
                s.busy = true;
                return Turn { of: self };
            }
            let (tx, rx) = oneshot::channel();
            s.seq += 1;
            let seq = s.seq;
            s.waiting.push((priority, Reverse(seq), Waiter(tx)));
            rx
        };
        let mut waiting = Waiting {
            rx: Some(rx),
            of: self,
        };
        if let Some(rx) = waiting.rx.as_mut() {
            // The sender goes away only after it handed us the turn: we hold it now.
            let _ = rx.await;
        }
        waiting.rx = None;
        Turn { of: self }
    }

    fn release(&self) {
        let mut s = self.lock();
        while let Some((_, _, Waiter(tx))) = s.waiting.pop() {
            // A waiter that went away (its future dropped) is skipped.
            if tx.send(()).is_ok() {
                return;
            }
        }
        s.busy = false;
    }
}

/// A waiter; dropped before its turn came (its buy cancelled), it hands on a turn it was
/// given meanwhile, so the turn is never lost.
struct Waiting<'a> {
    rx: Option<oneshot::Receiver<()>>,
    of: &'a Turnstile,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.of.release();
            }
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.of.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn arrivals_go_before_the_backlog_and_the_earliest_listed_first() {
        let t = Arc::new(Turnstile::default());
        let held = t.acquire(Priority::new(false, Some(0))).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, backlog, listed) in [
            ("backlog-old", true, 1),
            ("arrival-late", false, 30),
            ("arrival-early", false, 20),
            ("backlog-new", true, 40),
        ] {
            let (t, order) = (t.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = t.acquire(Priority::new(backlog, Some(listed))).await;
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        while t.lock().waiting.len() < 4 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                "arrival-early",
                "arrival-late",
                "backlog-old",
                "backlog-new"
            ]
        );
        assert!(!t.lock().busy, "free again");
    }
}
