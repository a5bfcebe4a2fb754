// repr(Rust) and repr(packed) alone fix no layout either.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(Rust)]
struct A {
    x: f64,
}

#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(packed)]
struct B {
    x: u8,
    y: u32,
}

fn main() {}
