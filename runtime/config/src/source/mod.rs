//! config.yaml's source text, parsed strictly and without losing what was written.
//!
//! serde_yaml's own `Value` parser has three gaps for a configuration file: a duplicate key is
//! reported at the start of the enclosing mapping (line 1 for a top-level key) rather than at
//! the repeated key; a plain scalar such as `1.10` becomes the float `1.1`, so the text the
//! operator wrote is gone; and values carry no line numbers. This module closes them with
//! walks over serde_yaml's event stream (same parser, same text, so the same shape):
//!
//! 1. [`parse()`]: a `Value` builder whose mapping-key visitor rejects a repeated key, so
//!    serde_yaml's error carries the repeated key's own line; the key path is kept for the
//!    message.
//! 2. [`SourceMap::new`]: a walk guided by that tree that asks for every number or boolean
//!    scalar as a string (serde_yaml then hands over the scalar's text as written), recorded
//!    by the node's address in the tree.
//! 3. [`SourceMap::line_of`]: the same walk, stopping with an error at one node; serde_yaml
//!    locates the error, which gives that node's line (used for error messages only).
//!
//! The pieces: `parse` (the entry point and the flow-depth pre-scan), `build` (the `Value`
//! builder behind step 1) and `map` (the walks of steps 2 and 3).

mod build;
mod map;
mod parse;

pub(crate) use map::SourceMap;
pub(crate) use parse::{parse, MAX_DEPTH};
