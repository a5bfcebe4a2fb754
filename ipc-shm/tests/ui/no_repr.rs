// Without #[repr(C)], Rust may order the fields differently in two builds.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
}

fn main() {}
