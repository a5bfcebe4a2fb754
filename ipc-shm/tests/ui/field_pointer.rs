// Pointers, references and heap data mean nothing in another process.
#[derive(multiproc_shm::Shareable)]
#[repr(C)]
struct Node {
    value: u32,
    next: Box<Node>,
}

#[derive(multiproc_shm::Shareable)]
#[repr(C)]
struct Name {
    text: String,
}

#[derive(multiproc_shm::Shareable)]
#[repr(C)]
struct Raw {
    p: *const u8,
}

fn main() {}
