//! The idempotency key and the header that carries it, on the ground floor: the
//! idempotency layer makes keys, retry and log read them, and errors carry them, so none of
//! them imports another for it. The public path is
//! [`idempotency::IdempotencyKey`](crate::idempotency::IdempotencyKey). Also the origin of a
//! URL as text and the tagged key (origin or custom) that layers keeping state per host key
//! their maps by.

mod format;
mod header;
mod idempotency_key;
mod origin;
mod origin_cache;
mod tagged;

pub use format::KeyFormat;
pub(crate) use format::is_printable_ascii;

pub(crate) use header::{DEFAULT_HEADER, header_name};
pub use idempotency_key::IdempotencyKey;
pub(crate) use origin::INLINE;
pub(crate) use origin_cache::OriginCache;
pub(crate) use tagged::{MapKey, TaggedKey, tagged_origin_inline};
