//! Build script of somnium-env. With the `server` feature it compiles the
//! dm_env_rpc protocol (`proto/`) to Rust with `protox` (a pure-Rust protobuf
//! compiler, so no `protoc` is needed) and `tonic-prost-build`.

fn main() {
    #[cfg(feature = "server")]
    compile_protos();
}

#[cfg(feature = "server")]
fn compile_protos() {
    let files = [
        "proto/dm_env_rpc/v1/dm_env_rpc.proto",
        "proto/google/rpc/status.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = match protox::compile(files, ["proto"]) {
        Ok(d) => d,
        Err(e) => panic!("could not compile the dm_env_rpc protocol: {e}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .extern_path(".google.rpc", "::tonic_types::pb")
        .compile_fds(descriptors)
    {
        panic!("could not generate Rust code for dm_env_rpc: {e}");
    }
}
