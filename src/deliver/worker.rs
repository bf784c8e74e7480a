//! The worker that drains an outbox.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;

use super::dispatcher::{DeliverError, Destination, Dispatcher};
use super::outbox::{Lease, Outbox, OutboxError, State};
use super::outcome::Verdict;
use crate::transport::HttpClient;

/// Drains an [`Outbox`]: leases due jobs, delivers them with a [`Dispatcher`] (at most
/// `concurrency` at once), records every attempt and reschedules, finishes or dead-letters.
///
/// On shutdown it stops leasing and waits for the attempts in flight, up to a grace period;
/// any it abandons keep their lease until it expires, then another worker takes them, so
/// nothing is lost (a receiver may see such a message twice, which its dedupe absorbs).
pub struct Worker<O, C, D> {
    outbox: Arc<O>,
    dispatcher: Arc<Dispatcher<C>>,
    destinations: Arc<D>,
    concurrency: usize,
    lease_for: Duration,
    idle: Duration,
    grace: Duration,
}

impl<O, C, D> Worker<O, C, D>
where
    O: Outbox + 'static,
    C: HttpClient + 'static,
    D: Fn(&str) -> Option<Destination> + Send + Sync + 'static,
{
    /// A worker for `outbox`, delivering with `dispatcher` to the destination `destinations`
    /// gives for each job's endpoint name (`None` dead-letters the job).
    pub fn new(outbox: Arc<O>, dispatcher: Arc<Dispatcher<C>>, destinations: D) -> Self {
        Worker {
            outbox,
            dispatcher,
            destinations: Arc::new(destinations),
            concurrency: 16,
            lease_for: Duration::from_secs(60),
            idle: Duration::from_millis(500),
            grace: Duration::from_secs(20),
        }
    }

    /// How many deliveries run at once; 16 unless set.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a lease lasts: longer than an attempt can take. 60 s unless set.
    #[must_use]
    pub fn lease_for(mut self, lease_for: Duration) -> Self {
        self.lease_for = lease_for;
        self
    }

    /// How long to wait when nothing is due; 500 ms unless set.
    #[must_use]
    pub fn poll_interval(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// How long shutdown waits for attempts in flight; 20 s unless set.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Runs until `shutdown` completes.
    ///
    /// # Errors
    ///
    /// The outbox's error when leasing fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), OutboxError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            let room = self.concurrency.saturating_sub(in_flight.len());
            let leased = if room > 0 {
                self.outbox
                    .lease(SystemTime::now(), room, self.lease_for)
                    .await?
            } else {
                Vec::new()
            };
            let busy = !leased.is_empty();
            for lease in leased {
                let (outbox, dispatcher, destinations) = (
                    self.outbox.clone(),
                    self.dispatcher.clone(),
                    self.destinations.clone(),
                );
                in_flight.spawn(async move {
                    // A lost lease or a store failure leaves the job to its lease's expiry.
                    let _ = process(&*outbox, &dispatcher, &*destinations, lease).await;
                });
            }
            if busy && in_flight.len() < self.concurrency {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                () = tokio::time::sleep(self.idle), if !busy => {}
            }
        }
        let drained = tokio::time::timeout(self.grace, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            in_flight.abort_all();
        }
        Ok(())
    }
}

/// One attempt for one leased job, and its bookkeeping.
async fn process<O, C, D>(
    outbox: &O,
    dispatcher: &Dispatcher<C>,
    destinations: &D,
    lease: Lease,
) -> Result<(), OutboxError>
where
    O: Outbox + ?Sized,
    C: HttpClient,
    D: Fn(&str) -> Option<Destination> + ?Sized,
{
    let Some(destination) = destinations(&lease.job.endpoint) else {
        return outbox.finish(&lease, State::DeadLettered).await;
    };
    let (attempt, verdict) = match dispatcher.attempt(&destination, &lease.job.payload).await {
        Ok(done) => done,
        Err(
            DeliverError::Address(_)
            | DeliverError::Url(_)
            | DeliverError::Sign(_)
            | DeliverError::Unguarded,
        ) => {
            return outbox.finish(&lease, State::DeadLettered).await;
        }
    };
    outbox.record(&lease, &attempt).await?;
    match verdict {
        Verdict::Delivered => outbox.finish(&lease, State::Delivered).await,
        Verdict::Gone => outbox.finish(&lease, State::Gone).await,
        Verdict::Retry { .. } => match dispatcher.next_delay(lease.attempts + 1, verdict) {
            Some(wait) => outbox.reschedule(&lease, SystemTime::now() + wait).await,
            None => outbox.finish(&lease, State::DeadLettered).await,
        },
    }
}
