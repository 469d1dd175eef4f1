//! Whole integrations on top of the client: a queue-driven worker ([`queue`]).

pub mod queue;
