//! One capture subscriber for every suite: the spans and events as tracing hands them to a
//! layer, and the text a user's log pipeline would receive (JSON or plain).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone)]
pub struct SpanRec {
    pub name: &'static str,
    pub parent: Option<usize>,
    pub fields: BTreeMap<String, String>,
    /// How many times each field was given a value (a text formatter shows each one).
    pub times: BTreeMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct EventRec {
    pub level: Level,
    pub target: String,
    pub message: String,
    /// Every field but `message`.
    pub fields: BTreeMap<String, String>,
    /// Index of the innermost span the event happened in.
    pub span: Option<usize>,
}

impl EventRec {
    pub fn field(&self, name: &str) -> Option<&str> {
        if name == "message" {
            return Some(&self.message);
        }
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default, Debug)]
struct Captured {
    spans: Vec<SpanRec>,
    events: Vec<EventRec>,
    /// Live span ids to indexes in `spans` (the registry reuses ids of closed spans).
    live: HashMap<u64, usize>,
}

/// A layer that keeps every span (with its parent and recorded fields) and every event.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Captured>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Counts the values given to each field.
struct Times<'a>(&'a mut BTreeMap<String, usize>);

impl Visit for Times<'_> {
    fn record_debug(&mut self, field: &Field, _: &dyn Debug) {
        *self.0.entry(field.name().to_owned()).or_default() += 1;
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = self.0.lock().expect("not poisoned");
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| captured.live.get(&parent.id().into_u64()).copied());
        let (mut fields, mut times) = (BTreeMap::new(), BTreeMap::new());
        attrs.record(&mut Fields(&mut fields));
        attrs.record(&mut Times(&mut times));
        captured.spans.push(SpanRec {
            name: attrs.metadata().name(),
            parent,
            fields,
            times,
        });
        let index = captured.spans.len() - 1;
        captured.live.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut captured = self.0.lock().expect("not poisoned");
        let index = captured.live[&id.into_u64()];
        let span = &mut captured.spans[index];
        values.record(&mut Fields(&mut span.fields));
        values.record(&mut Times(&mut span.times));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut captured = self.0.lock().expect("not poisoned");
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx
            .event_span(event)
            .and_then(|span| captured.live.get(&span.id().into_u64()).copied());
        captured.events.push(EventRec {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: fields.remove("message").unwrap_or_default(),
            fields,
            span,
        });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.0
            .lock()
            .expect("not poisoned")
            .live
            .remove(&id.into_u64());
    }
}

impl Capture {
    /// The spans named `name`, with their indexes (what `parent` and `span` refer to).
    pub fn spans(&self, name: &str) -> Vec<(usize, SpanRec)> {
        let captured = self.0.lock().expect("not poisoned");
        captured
            .spans
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, span)| span.name == name)
            .collect()
    }

    /// The events whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<EventRec> {
        self.all_events()
            .into_iter()
            .filter(|event| event.message == message)
            .collect()
    }

    pub fn all_events(&self) -> Vec<EventRec> {
        self.0.lock().expect("not poisoned").events.clone()
    }

    /// The fields of the one event with `message`; fails if there are none or several.
    pub fn only(&self, message: &str) -> BTreeMap<String, String> {
        let found = self.events(message);
        assert_eq!(found.len(), 1, "{}", self.dump());
        found[0].fields.clone()
    }

    /// How many events at `level` have a target starting with `target_prefix`.
    pub fn count(&self, level: Level, target_prefix: &str) -> usize {
        self.all_events()
            .iter()
            .filter(|e| e.level == level && e.target.starts_with(target_prefix))
            .count()
    }

    pub fn dump(&self) -> String {
        format!("{:#?}", self.0.lock().expect("not poisoned"))
    }
}

/// What a formatter wrote: what a user's log pipeline would receive.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("UTF-8 logs")
    }

    /// Each line parsed as JSON (for [`capture_json`]).
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }
}

/// Everything the run wrote: the formatted lines and every captured field.
pub fn all_output(capture: &Capture, buffer: &LogBuffer) -> String {
    format!("{}\n{}", buffer.text(), capture.dump())
}

/// Captures every span and event on this thread, formatting nothing.
pub fn capture_events() -> (Capture, DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, super::capture_on_this_thread(subscriber))
}

/// Captures at TRACE on this thread (until the guard drops), feeding both the capture layer and
/// tracing-subscriber's JSON formatter (with span events, so span fields are printed too).
pub fn capture_json() -> (Capture, LogBuffer, DefaultGuard) {
    let capture = Capture::default();
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(capture.clone()).with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_span_events(FmtSpan::FULL)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone()),
    );
    (capture, buffer, super::capture_on_this_thread(subscriber))
}

/// Captures up to `level` on this thread (until the guard drops), feeding both the capture layer and
/// tracing-subscriber's plain-text formatter (no colours).
pub fn capture_text(level: Level) -> (Capture, LogBuffer, DefaultGuard) {
    let capture = Capture::default();
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::from_level(level))
        .with(capture.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false),
        );
    (capture, buffer, super::capture_on_this_thread(subscriber))
}
