// A borrow is local to one process.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
struct View<'a> {
    bytes: &'a [u8; 4],
}

fn main() {}
