// A generic struct is Shareable only for Shareable parameters.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
struct Pair<T> {
    a: T,
    b: T,
}

fn main() {
    let _ = multiproc_shm::Value::new(Pair { a: 'x', b: 'y' });
}
