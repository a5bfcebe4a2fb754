#[derive(multiproc_shm::Shareable, Clone, Copy)]
#[repr(C)]
union Bits {
    f: f32,
    u: u32,
}

fn main() {}
