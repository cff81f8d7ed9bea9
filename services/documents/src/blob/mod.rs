//! Attachment blobs: chunked AES-GCM encryption, the object store that keeps them, and the
//! sweeper that leaves no orphans.

pub mod crypto;
pub mod storage;
pub mod sweeper;
