//! kaigo's gRPC contracts, generated at build time from `proto/` (see `build.rs`).
//!
//! Modules mirror the protobuf packages: `kaigo::eligibility::v1`, `kaigo::common::v1`, …
//! [`FILE_DESCRIPTOR_SET`] is the encoded descriptor set of every file, for server reflection
//! and for tools that need the schema at run time (the gateway, the load driver).

// Generated code follows the comments of the .proto files, not rustdoc conventions.
#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation, clippy::large_enum_variant, missing_docs)]

pub mod codec;
mod date;

pub use date::{DateError, YEARS, from_naive_date, to_naive_date};

/// The encoded `FileDescriptorSet` of every kaigo `.proto` file.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kaigo_descriptor.bin"));

pub mod google {
    pub mod r#type {
        tonic::include_proto!("google.r#type");
    }
}

pub mod kaigo {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("kaigo.common.v1");
        }
    }
    pub mod eligibility {
        pub mod v1 {
            tonic::include_proto!("kaigo.eligibility.v1");
        }
    }
    pub mod certification {
        pub mod v1 {
            tonic::include_proto!("kaigo.certification.v1");
        }
    }
    pub mod documents {
        pub mod v1 {
            tonic::include_proto!("kaigo.documents.v1");
        }
    }
    pub mod careplan {
        pub mod v1 {
            tonic::include_proto!("kaigo.careplan.v1");
        }
    }
    pub mod subsidies {
        pub mod v1 {
            tonic::include_proto!("kaigo.subsidies.v1");
        }
    }
    pub mod registry {
        pub mod v1 {
            tonic::include_proto!("kaigo.registry.v1");
        }
    }
    /// The read audit trail each service serves to the others (never routed by the gateway).
    pub mod audit {
        pub mod v1 {
            tonic::include_proto!("kaigo.audit.v1");
        }
    }
}

/// The fully qualified names of the six kaigo services, as routed by the gateway and reported
/// by health checks.
pub const SERVICE_NAMES: [&str; 6] = [
    "kaigo.eligibility.v1.EligibilityService",
    "kaigo.certification.v1.CertificationService",
    "kaigo.documents.v1.DocumentService",
    "kaigo.careplan.v1.CarePlanService",
    "kaigo.subsidies.v1.SubsidyService",
    "kaigo.registry.v1.RegistryService",
];
