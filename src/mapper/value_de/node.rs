//! Where a value sits in the document.

use crate::mapper::path::{self, Segment};

/// Where a value sits, as a stack-allocated linked list: no allocation per field
/// unless a path is actually reported.
#[derive(Clone, Copy)]
pub(super) enum Node<'p> {
    Root,
    Key(&'p Node<'p>, &'p str),
    Index(&'p Node<'p>, usize),
}

impl Node<'_> {
    pub(super) fn render(&self, out: &mut String) {
        match *self {
            Node::Root => {}
            Node::Key(parent, key) => {
                parent.render(out);
                path::push(out, Segment::Key(key));
            }
            Node::Index(parent, index) => {
                parent.render(out);
                path::push(out, Segment::Index(index));
            }
        }
    }

    pub(super) fn to_path(self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }
}
