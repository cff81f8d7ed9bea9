//! Compiles every `.proto` under this directory with protox (pure Rust, no system `protoc`)
//! and generates prost messages plus tonic clients and servers.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    collect_protos(&root.join("kaigo"), &mut files)?;
    collect_protos(&root.join("google"), &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // The encoded set serves reflection (grpcurl, ghz) and the gateway's route table.
    std::fs::write(out_dir.join("kaigo_descriptor.bin"), prost::Message::encode_to_vec(&descriptors))?;

    tonic_prost_build::configure()
        // Until a service issue implements an RPC it answers UNIMPLEMENTED rather than failing
        // the build; each service issue replaces these defaults with its real handlers.
        .generate_default_stubs(true)
        // tonic-prost's codec, except that an undecodable request is INVALID_ARGUMENT, not
        // INTERNAL (src/codec.rs).
        .codec_path("crate::codec::KaigoCodec")
        .compile_fds(descriptors)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
