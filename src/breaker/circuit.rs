//! One circuit: its state in one atomic word, its window, and the rare transitions under a
//! lock that no call in a closed circuit takes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::CircuitState;
use super::clock::{Clock, nanos};
use super::config::CircuitBreakerConfig;
use super::window::Window;

/// The word's low two bits: the state.
const TAG: u64 = 0b11;
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
/// Bits 2..18: the probes a half-open circuit may still let through.
const PROBE_SHIFT: u32 = 2;
const PROBES: u64 = 0xFFFF << PROBE_SHIFT;
/// Bits 18..64: the generation, one more on every transition, so that an outcome from an
/// earlier state is never taken for one of this state.
const GEN_SHIFT: u32 = 18;
/// The most probes a half-open circuit counts.
pub(crate) const MAX_PROBES: u32 = 0xFFFF;

/// A circuit's settings, copied into each circuit so that a call needs nothing else.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// The failure ratio in parts per million.
    ratio_ppm: u64,
    minimum_calls: u64,
    break_nanos: u64,
    max_break: Duration,
    probes: u32,
    window_nanos: u64,
    pub(crate) clock: Clock,
}

impl Settings {
    pub(crate) fn new(config: &CircuitBreakerConfig, clock: Clock) -> Self {
        // A ratio in (0, 1], validated: the product is within 1..=1e6.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ratio_ppm = (config.failure_ratio * 1e6).ceil() as u64;
        Self {
            ratio_ppm,
            minimum_calls: u64::from(config.minimum_calls),
            break_nanos: nanos(config.break_duration),
            max_break: config.max_break,
            probes: config.half_open_probes.min(MAX_PROBES),
            window_nanos: nanos(config.window),
            clock,
        }
    }

    /// The break after `trips` trips without a close: doubling, capped.
    fn break_after(&self, trips: u32) -> u64 {
        let doubled = self.break_nanos.saturating_mul(1_u64 << trips.min(32));
        doubled.min(nanos(self.max_break))
    }

    /// The longest break, and the cap on a 503's `Retry-After`.
    pub(crate) fn max_break(&self) -> Duration {
        self.max_break
    }
}

/// The state the call was admitted in: its generation and state, without the probe count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Ticket {
    fn is_probe(self) -> bool {
        self.0 & TAG == HALF_OPEN
    }
}

/// Whether a call may go.
pub(crate) enum Admission {
    Go(Ticket),
    /// Not until this (nanoseconds of the clock).
    Refuse(u64),
}

/// What an outcome means for the circuit, read from the shared classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    Success,
    /// A transient failure: counts against the host.
    Failure,
    /// A throttle or a permanent failure: the host answered, nothing is counted.
    Neutral,
    /// A 503 with `Retry-After`: open for that long (already capped).
    OpenFor(Duration),
}

/// One circuit, shared by every call of its key.
#[derive(Debug)]
pub(crate) struct Circuit {
    word: AtomicU64,
    /// Nanoseconds of the clock; read only in the open state, written before the word.
    open_until: AtomicU64,
    window: Window,
    /// Taken only to change state: trips since the last close and probes that succeeded.
    transitions: Mutex<Trips>,
    settings: Settings,
    /// The key as logs may show it.
    name: Option<Box<str>>,
}

#[derive(Debug, Default)]
struct Trips {
    trips: u32,
    probes_ok: u32,
}

impl Circuit {
    pub(crate) fn new(settings: Settings, name: Option<&str>) -> Self {
        Self {
            word: AtomicU64::new(CLOSED),
            open_until: AtomicU64::new(0),
            window: Window::new(settings.window_nanos),
            transitions: Mutex::new(Trips::default()),
            settings,
            name: name.map(Box::from),
        }
    }

    /// The settings the circuit runs by.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether a call may go now. A closed circuit answers with one atomic load.
    #[inline]
    pub(crate) fn admit(&self) -> Admission {
        let word = self.word.load(Ordering::Acquire);
        if word & TAG == CLOSED {
            return Admission::Go(Ticket(word));
        }
        self.admit_slowly(word)
    }

    fn admit_slowly(&self, mut word: u64) -> Admission {
        let now = self.settings.clock.now();
        loop {
            match word & TAG {
                CLOSED => return Admission::Go(Ticket(word)),
                OPEN => {
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Admission::Refuse(until);
                    }
                    self.half_open(word);
                    word = self.word.load(Ordering::Acquire);
                }
                _ => {
                    if word & PROBES == 0 {
                        // Probes are out: ask again once one would have reopened it.
                        return Admission::Refuse(now.saturating_add(self.settings.break_nanos));
                    }
                    let taken = word - (1 << PROBE_SHIFT);
                    match self.word.compare_exchange_weak(
                        word,
                        taken,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Admission::Go(Ticket(word & !PROBES)),
                        Err(actual) => word = actual,
                    }
                }
            }
        }
    }

    /// Counts a success of a call admitted with `ticket` in a closed circuit without the
    /// clock, as most are: `false` when it takes [`record`](Self::record). Inlined into
    /// the caller, with no frame of its own.
    #[inline(always)]
    pub(crate) fn record_success_quickly(&self, ticket: Ticket) -> bool {
        !ticket.is_probe() && self.window.record_success_without_clock()
    }

    /// Counts the outcome of a call admitted with `ticket`.
    pub(crate) fn record(&self, ticket: Ticket, counted: Counted) {
        if counted == Counted::Success && self.record_success_quickly(ticket) {
            return;
        }
        let now = self.settings.clock.now();
        if let Counted::OpenFor(wait) = counted {
            self.open_for(now, wait);
            return;
        }
        if ticket.is_probe() {
            self.probed(ticket, counted, now);
            return;
        }
        match counted {
            Counted::Success => self.window.record(now, false),
            Counted::Failure => {
                self.window.record(now, true);
                let word = self.word.load(Ordering::Acquire);
                if word & TAG == CLOSED && self.tripped(now) {
                    self.trip(word, now);
                }
            }
            Counted::Neutral | Counted::OpenFor(_) => {}
        }
    }

    /// Gives back the slot of a probe that ended without an outcome (its call was dropped).
    pub(crate) fn release(&self, ticket: Ticket) {
        if !ticket.is_probe() {
            return;
        }
        let mut word = self.word.load(Ordering::Acquire);
        while word & !PROBES == ticket.0 && word & PROBES != PROBES {
            match self.word.compare_exchange_weak(
                word,
                word + (1 << PROBE_SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// The state as a caller would find it now.
    pub(crate) fn state(&self) -> CircuitState {
        let word = self.word.load(Ordering::Acquire);
        match word & TAG {
            CLOSED => CircuitState::Closed,
            OPEN => {
                let until = self.open_until.load(Ordering::Acquire);
                if self.settings.clock.now() < until {
                    CircuitState::Open {
                        until: self.settings.clock.instant(until),
                    }
                } else {
                    CircuitState::HalfOpen
                }
            }
            _ => CircuitState::HalfOpen,
        }
    }

    /// Closed with nothing counted in the window: a circuit that may be evicted.
    pub(crate) fn is_idle(&self) -> bool {
        self.word.load(Ordering::Acquire) & TAG == CLOSED
            && self.window.counts(self.settings.clock.now()).calls == 0
    }

    fn tripped(&self, now: u64) -> bool {
        let counts = self.window.counts(now);
        counts.calls >= self.settings.minimum_calls
            && counts.failures.saturating_mul(1_000_000)
                >= self.settings.ratio_ppm.saturating_mul(counts.calls)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Trips> {
        // A panic cannot leave `Trips` half-written: two counters, each stored whole.
        self.transitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a closed circuit whose window passed the ratio, unless another call did.
    fn trip(&self, seen: u64, now: u64) {
        let mut trips = self.lock();
        if self.word.load(Ordering::Acquire) != seen {
            return;
        }
        let counts = self.window.counts(now);
        let wait = self.settings.break_after(trips.trips);
        trips.trips = trips.trips.saturating_add(1);
        self.open(seen, now.saturating_add(wait));
        tracing::warn!(
            breaker.key = self.shown(),
            "steadfast.circuit.state" = "open",
            calls = counts.calls,
            failures = counts.failures,
            break_ms = wait / 1_000_000,
            "circuit opened: calls to this key fail fast, not sent"
        );
    }

    /// Opens the circuit for a server's `Retry-After` on a 503, unless it is already open
    /// for longer.
    fn open_for(&self, now: u64, wait: Duration) {
        let until = now.saturating_add(nanos(wait));
        let _trips = self.lock();
        let word = self.word.load(Ordering::Acquire);
        if word & TAG == OPEN && self.open_until.load(Ordering::Acquire) >= until {
            return;
        }
        self.open(word, until);
        tracing::warn!(
            breaker.key = self.shown(),
            "steadfast.circuit.state" = "open",
            http.response.status_code = 503,
            break_ms = nanos(wait) / 1_000_000,
            "circuit opened for the server's Retry-After: calls to this key fail fast, not sent"
        );
    }

    /// A probe's outcome: one failure reopens for longer, all probes succeeding close.
    fn probed(&self, ticket: Ticket, counted: Counted, now: u64) {
        let mut trips = self.lock();
        let word = self.word.load(Ordering::Acquire);
        if word & !PROBES != ticket.0 {
            return;
        }
        if counted == Counted::Failure {
            let wait = self.settings.break_after(trips.trips);
            trips.trips = trips.trips.saturating_add(1);
            self.open(word, now.saturating_add(wait));
            tracing::warn!(
                breaker.key = self.shown(),
                "steadfast.circuit.state" = "open",
                break_ms = wait / 1_000_000,
                "a probe failed: circuit opened again, for longer"
            );
            return;
        }
        trips.probes_ok += 1;
        if trips.probes_ok >= self.settings.probes {
            trips.trips = 0;
            trips.probes_ok = 0;
            self.window.clear();
            self.word.store(next_gen(word) | CLOSED, Ordering::Release);
            crate::metrics::circuit_changed(self.name.as_deref(), "closed");
            tracing::info!(
                breaker.key = self.shown(),
                "steadfast.circuit.state" = "closed",
                "circuit closed: the probes succeeded"
            );
        }
    }

    /// Moves an open circuit whose break is over to half-open, unless another call did.
    fn half_open(&self, seen: u64) {
        let mut trips = self.lock();
        if self.word.load(Ordering::Acquire) != seen {
            return;
        }
        trips.probes_ok = 0;
        let probes = u64::from(self.settings.probes) << PROBE_SHIFT;
        self.word
            .store(next_gen(seen) | probes | HALF_OPEN, Ordering::Release);
        crate::metrics::circuit_changed(self.name.as_deref(), "half_open");
        tracing::info!(
            breaker.key = self.shown(),
            "steadfast.circuit.state" = "half_open",
            probes = self.settings.probes,
            "circuit half-open: letting probes through"
        );
    }

    /// Publishes the open state: the time first, then the word that makes it read.
    fn open(&self, seen: u64, until: u64) {
        self.open_until.store(until, Ordering::Release);
        self.word.store(next_gen(seen) | OPEN, Ordering::Release);
        crate::metrics::circuit_changed(self.name.as_deref(), "open");
    }

    fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or("<custom key>")
    }
}

/// The generation after `word`'s, with no state and no probes.
fn next_gen(word: u64) -> u64 {
    ((word >> GEN_SHIFT).wrapping_add(1)) << GEN_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuit(config: &CircuitBreakerConfig) -> Circuit {
        Circuit::new(
            Settings::new(config, Clock::new()),
            Some("http://a.example:80"),
        )
    }

    fn go(circuit: &Circuit) -> Ticket {
        match circuit.admit() {
            Admission::Go(ticket) => ticket,
            Admission::Refuse(_) => panic!("refused: {:?}", circuit.state()),
        }
    }

    fn config() -> CircuitBreakerConfig {
        CircuitBreakerConfig::default()
            .minimum_calls(4)
            .failure_ratio(0.5)
            .break_duration(Duration::from_secs(5))
            .max_break(Duration::from_secs(15))
            .half_open_probes(2)
    }

    #[tokio::test(start_paused = true)]
    async fn trips_at_the_ratio_then_probes_then_closes() {
        let circuit = circuit(&config());
        for counted in [Counted::Success, Counted::Failure, Counted::Success] {
            circuit.record(go(&circuit), counted);
        }
        assert_eq!(
            circuit.state(),
            CircuitState::Closed,
            "3 calls, below the minimum"
        );
        circuit.record(go(&circuit), Counted::Failure);
        let CircuitState::Open { until } = circuit.state() else {
            panic!("2 of 4 failed: open");
        };
        assert_eq!(until - tokio::time::Instant::now(), Duration::from_secs(5));
        assert!(matches!(circuit.admit(), Admission::Refuse(_)));

        tokio::time::advance(Duration::from_secs(5)).await;
        let (first, second) = (go(&circuit), go(&circuit));
        assert!(
            matches!(circuit.admit(), Admission::Refuse(_)),
            "2 probes only"
        );
        circuit.release(second);
        let second = go(&circuit);
        circuit.record(first, Counted::Success);
        assert_eq!(circuit.state(), CircuitState::HalfOpen);
        circuit.record(second, Counted::Neutral);
        assert_eq!(circuit.state(), CircuitState::Closed);
        assert!(circuit.is_idle(), "a closed circuit starts over");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_doubles_the_break_up_to_the_cap() {
        let circuit = circuit(&config());
        for _ in 0..4 {
            circuit.record(go(&circuit), Counted::Failure);
        }
        let mut breaks = Vec::new();
        for _ in 0..3 {
            let CircuitState::Open { until } = circuit.state() else {
                panic!("open");
            };
            let wait = until - tokio::time::Instant::now();
            breaks.push(wait.as_secs());
            tokio::time::advance(wait).await;
            circuit.record(go(&circuit), Counted::Failure);
        }
        assert_eq!(breaks, [5, 10, 15]);
    }

    #[tokio::test(start_paused = true)]
    async fn late_outcomes_of_an_earlier_state_change_nothing() {
        let circuit = circuit(&config().minimum_calls(1));
        let early = go(&circuit);
        circuit.record(go(&circuit), Counted::Failure);
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = go(&circuit);
        // A call admitted while closed, failing now, leaves the half-open circuit alone.
        circuit.record(early, Counted::Failure);
        assert_eq!(circuit.state(), CircuitState::HalfOpen);
        circuit.record(probe, Counted::Success);
        circuit.record(go(&circuit), Counted::Success);
        assert_eq!(circuit.state(), CircuitState::Closed);
        // A probe of that earlier half-open state, given back late, adds no slot.
        circuit.release(probe);
        assert_eq!(circuit.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_503_retry_after_opens_for_that_long() {
        let circuit = circuit(&config());
        circuit.record(go(&circuit), Counted::OpenFor(Duration::from_secs(12)));
        let CircuitState::Open { until } = circuit.state() else {
            panic!("open");
        };
        assert_eq!(until - tokio::time::Instant::now(), Duration::from_secs(12));
        // A shorter one does not shorten it.
        circuit.record(Ticket(0), Counted::OpenFor(Duration::from_secs(1)));
        assert_eq!(circuit.state(), CircuitState::Open { until });
    }
}
