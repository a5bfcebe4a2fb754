#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[shareable(krate = multiproc_shm)]
#[repr(C)]
struct Point {
    x: f64,
}

fn main() {}
