//! Generates the gRPC binding from the official `proto/a2a.proto`: prost messages and the
//! tonic service (`tonic-prost-build`), and their ProtoJSON serde impls (`pbjson-build`),
//! compiled by `protox`, a pure-Rust protobuf compiler (no `protoc` needed).

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = protox::compile(["a2a.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out.join("a2a_descriptors.bin");
    std::fs::write(&descriptors, files.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .compile_well_known_types(true)
        // Decode failures become INVALID_ARGUMENT with an ErrorInfo (grpc/codec.rs).
        .codec_path("crate::grpc::codec::A2aCodec")
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(files)?;
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptors)?)?
        .ignore_unknown_fields()
        .build(&[".lf.a2a.v1"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
