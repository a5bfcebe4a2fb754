// Shared memory promises alignment up to 64 bytes.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C, align(128))]
struct Wide {
    n: u64,
}

fn main() {}
