//! Queue handles rebuilt from bytes that did not come from a real handle: a ring paired with
//! locks other than its own would let two producers write the same bytes at once, so it is
//! refused on arrival, as `multiproc-shm` refuses a value paired with another lock.

use multiproc_core::SharedMapping;
use multiproc_core::heap::Refusal;
use multiproc_core::transfer::{from_envelope, to_envelope};
use multiproc_queue::Queue;
use multiproc_sync::Lock;

/// A queue as it travels: (ring size, ring mapping, put lock, get lock).
type Parts = (u64, SharedMapping, Lock, Lock);

fn parts(q: &Queue<u32>) -> Parts {
    let env = to_envelope(q).unwrap();
    from_envelope(&env.bytes, env.fds).unwrap()
}

fn rebuild(forged: &(u64, &SharedMapping, &Lock, &Lock)) -> multiproc_core::Result<Queue<u32>> {
    let env = to_envelope(forged).unwrap();
    from_envelope(&env.bytes, env.fds)
}

#[test]
fn a_ring_paired_with_other_locks_is_refused() {
    let q: Queue<u32> = Queue::new().unwrap();
    q.put(7).unwrap();
    let (cap, map, put, get) = parts(&q);
    let other: Queue<u32> = Queue::new().unwrap();
    let (_, _, other_put, other_get) = parts(&other);

    // Another queue's locks: two producers could write the same bytes.
    let err = rebuild(&(cap, &map, &other_put, &other_get)).unwrap_err();
    assert!(
        matches!(err, multiproc_core::Error::Refused(Refusal::WrongGuard)),
        "{err:?}"
    );
    // Its own locks, swapped: refused too.
    let err = rebuild(&(cap, &map, &get, &put)).unwrap_err();
    assert!(
        matches!(err, multiproc_core::Error::Refused(Refusal::WrongGuard)),
        "{err:?}"
    );
    // A size that does not match the mapping's header.
    let err = rebuild(&(cap * 2, &map, &put, &get)).unwrap_err();
    assert!(
        matches!(err, multiproc_core::Error::Refused(Refusal::WrongLayout)),
        "{err:?}"
    );
    // The honest pairing works.
    let back = rebuild(&(cap, &map, &put, &get)).unwrap();
    assert_eq!(back.get().unwrap(), 7);
}
