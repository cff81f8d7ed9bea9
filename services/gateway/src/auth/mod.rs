//! Who is calling: Bearer tokens (PEM keys, JWKS, an optional HS256 secret), the verified-token
//! cache, client certificates, and the dev key of `kaigo dev`.

mod authenticated;
mod certificate;
mod claims;
mod dev_key;
mod key_store;
mod keys;
mod verifier;

pub(crate) use authenticated::Authenticated;
pub use certificate::CertificateIdentity;
pub use claims::{Claims, TokenError, caller_from_claims};
pub use dev_key::DevKey;
pub use verifier::TokenVerifier;
