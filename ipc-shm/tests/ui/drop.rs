// Values in shared memory are copied bit for bit and never dropped.
#[derive(multiproc_shm::Shareable)]
#[repr(C)]
struct Noisy {
    n: u32,
}

impl Drop for Noisy {
    fn drop(&mut self) {}
}

fn main() {}
