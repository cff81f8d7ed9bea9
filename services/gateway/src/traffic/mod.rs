//! Traffic control: the pieces the gateway's tower layers are made of.
//!
//! Each is small and pure enough to test alone: a token bucket per caller, a per-role
//! concurrency gate that sheds load instead of queueing, the framing of the request body
//! (message size, flags, truncation, a unary method's one message), `grpc-timeout` parsing
//! and capping, a retry budget, a circuit breaker per service, and the reading of what is left
//! of an HTTP/1.1 request body answered early.

pub(crate) mod breaker;
pub(crate) mod deadline;
pub(crate) mod drain;
pub(crate) mod framing;
pub(crate) mod rate;
pub(crate) mod retry;
