//! The `mktorrent-rs` binary: all behaviour lives in the library.

fn main() {
    let mut env = mktorrent_rs::env::Env::process();
    let code = mktorrent_rs::run(std::env::args_os(), &mut env);
    drop(env);
    std::process::exit(code);
}
