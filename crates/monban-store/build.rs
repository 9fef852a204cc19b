fn main() {
    // The migrations are embedded; rebuild when they change.
    println!("cargo:rerun-if-changed=../../migrations");
}
