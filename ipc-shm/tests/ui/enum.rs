// Not every byte pattern is a value of an enum.
#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
enum State {
    Idle,
    Busy,
}

fn main() {}
