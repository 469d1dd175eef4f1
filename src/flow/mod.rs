//! Whole integrations on top of the client: reconciliation of two systems.

pub mod reconcile;

pub use reconcile::{ReconcileConfig, ReconcileError, ReconcileReport, reconcile};
