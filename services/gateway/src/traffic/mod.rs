//! Traffic control: the pieces the gateway's tower layers are made of.
//!
//! Each is small and pure enough to test alone: a token bucket per caller, a per-role
//! concurrency gate that sheds load instead of queueing, a message-size limit on the request
//! body, `grpc-timeout` parsing and capping, a retry budget, and a circuit breaker per service.

pub(crate) mod breaker;
pub(crate) mod deadline;
pub(crate) mod rate;
pub(crate) mod retry;
pub(crate) mod size;
