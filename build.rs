// `sqlx::migrate!` embeds `migrations/` at compile time, but Cargo does not know the macro reads
// it: without this, a new or edited migration would not reach the binary until some Rust source
// changed (the sqlx documentation recommends exactly this line).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
