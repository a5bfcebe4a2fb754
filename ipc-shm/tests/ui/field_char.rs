// Not every 32-bit pattern is a `char`.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
struct Letter {
    c: char,
    n: u32,
}

fn main() {}
