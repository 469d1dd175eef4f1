//! Pagination: a list walked page by page through the client's stack.

mod body_cursor;
mod client;
mod config;
mod cursor;
mod error;
mod items;
mod link;
mod offset;
mod page;
mod pages;
mod paginator;
mod position;
mod until_error;
mod walk;

pub use body_cursor::BodyCursor;
pub use config::PaginateConfig;
pub use cursor::Cursor;
pub use error::{PaginateError, PaginateErrorKind};
pub use items::Items;
pub use link::LinkHeader;
pub use offset::{Offset, Stop};
pub use page::Page;
pub use pages::Pages;
pub use paginator::{Paginator, set_query_param};
pub use position::Position;
pub use until_error::{Checkpoint, UntilError};
