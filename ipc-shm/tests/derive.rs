//! `#[derive(Shareable)]`: derived structs (named, tuple, generic, nested, with `bool` fields,
//! `transparent`, `align`, `packed`, a renamed crate path) work in `Value` and `Array` across
//! `spawn` and `forkserver` children; the derived `normalize` fixes a `bool` field's byte at
//! its offset; and every case the trait's contract forbids fails to compile (`tests/ui`).

use std::time::Duration;

use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{Array, Shareable, Value};

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// Nested, with a `bool` field and padding after it.
#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Segment {
    from: Point,
    to: Point,
    visible: bool,
    weight: u32,
}

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Rgb(u8, u8, u8);

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Pair<T> {
    a: T,
    b: T,
}

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(transparent)]
struct Meters(f64);

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C, align(32))]
struct Aligned {
    n: u64,
}

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C, packed)]
struct Packed {
    tag: u8,
    flag: bool,
    n: u32,
}

#[derive(Shareable, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Grid<const N: usize> {
    cells: [bool; N],
}

/// The crate under another path, as a user of the umbrella crate writes
/// `#[shareable(crate = multiproc::shm)]`.
mod renamed {
    pub use multiproc_shm::*;
}

#[derive(renamed::Shareable, Clone, Copy, Debug, PartialEq)]
#[shareable(crate = renamed)]
#[repr(C)]
struct Renamed {
    n: i32,
}

type Handles = (
    Array<Segment>,
    Value<Rgb>,
    Value<Pair<i16>>,
    Value<Meters>,
    Value<Aligned>,
    Value<Packed>,
    Value<Grid<3>>,
    Value<Renamed>,
);

fn child((segments, rgb, pair, m, aligned, packed, grid, renamed): Handles) {
    let mut s = segments.get(1).unwrap();
    s.visible = !s.visible;
    s.to.x += 10.0;
    segments.set(1, s).unwrap();
    rgb.update(|c| c.2 = 255);
    pair.update(|p| std::mem::swap(&mut p.a, &mut p.b));
    m.update(|m| m.0 *= 2.0);
    aligned.update(|a| a.n += 1);
    packed.update(|p| {
        let n = p.n;
        p.n = n + 1;
        p.flag = true;
    });
    grid.update(|g| g.cells[1] = true);
    renamed.update(|r| r.n = -r.n);
}

#[test]
fn derived_structs_cross_to_children() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let seg = Segment {
            from: Point { x: 0.0, y: 0.0 },
            to: Point { x: 1.0, y: 1.0 },
            visible: false,
            weight: 3,
        };
        let handles: Handles = (
            Array::new(&[seg, seg]).unwrap(),
            Value::new(Rgb(1, 2, 3)).unwrap(),
            Value::new(Pair { a: 1, b: -1 }).unwrap(),
            Value::new(Meters(1.5)).unwrap(),
            Value::new(Aligned { n: 41 }).unwrap(),
            Value::new(Packed {
                tag: 7,
                flag: false,
                n: 9,
            })
            .unwrap(),
            Value::new(Grid { cells: [false; 3] }).unwrap(),
            Value::new(Renamed { n: 5 }).unwrap(),
        );
        let p = get_context(method).process(child, handles.clone());
        p.start().unwrap();
        assert!(
            p.join_timeout(LIMIT).unwrap(),
            "{method:?}: the child hangs"
        );
        assert_eq!(p.exitcode(), Some(0), "{method:?}");
        let (segments, rgb, pair, m, aligned, packed, grid, renamed) = handles;
        let moved = segments.get(1).unwrap();
        assert!(moved.visible && moved.to.x == 11.0 && moved.weight == 3);
        assert_eq!(segments.get(0).unwrap(), seg);
        assert_eq!(rgb.get(), Rgb(1, 2, 255));
        assert_eq!(pair.get(), Pair { a: -1, b: 1 });
        assert_eq!(m.get(), Meters(3.0));
        assert_eq!(aligned.get(), Aligned { n: 42 });
        let pk = packed.get();
        assert!({ pk.flag } && { pk.n } == 10 && { pk.tag } == 7);
        assert_eq!(grid.get().cells, [false, true, false]);
        assert_eq!(renamed.get(), Renamed { n: -5 });
    }
}

#[test]
fn the_derived_normalize_fixes_each_bool_field_at_its_offset() {
    const {
        assert!(<Segment as Shareable>::NORMALIZE);
        assert!(<Packed as Shareable>::NORMALIZE);
        assert!(<Grid<2> as Shareable>::NORMALIZE);
        assert!(!<Point as Shareable>::NORMALIZE);
        assert!(!<Pair<u8> as Shareable>::NORMALIZE);
    }

    // A byte that no `bool` store wrote (another program, a crash mid-copy).
    let mut raw = [0u8; size_of::<Segment>()];
    raw[std::mem::offset_of!(Segment, visible)] = 0x7f;
    raw[std::mem::offset_of!(Segment, weight)] = 0x7f;
    // SAFETY: `raw` holds `size_of::<Segment>()` bytes.
    unsafe { <Segment as Shareable>::normalize(raw.as_mut_ptr()) };
    assert_eq!(raw[std::mem::offset_of!(Segment, visible)], 1);
    assert_eq!(
        raw[std::mem::offset_of!(Segment, weight)],
        0x7f,
        "not a bool: kept"
    );

    let mut raw = [0u8; size_of::<Packed>()];
    raw[1] = 0x80;
    // SAFETY: as above.
    unsafe { <Packed as Shareable>::normalize(raw.as_mut_ptr()) };
    assert_eq!(raw, [0, 1, 0, 0, 0, 0]);

    let mut raw = [2u8, 0, 9];
    // SAFETY: as above.
    unsafe { <Grid<3> as Shareable>::normalize(raw.as_mut_ptr()) };
    assert_eq!(raw, [1, 0, 1]);
}

#[test]
fn what_the_contract_forbids_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
