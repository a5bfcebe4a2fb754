#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
struct Nothing;

#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
struct Empty {}

fn main() {}
