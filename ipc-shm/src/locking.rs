//! What `Value` and `Array` need of their [`AnyLock`] beyond its public API.

use multiproc_sync::{AnyLock, AnyLockGuard, OwnerDied};

/// Acquires `lock`, taking it over from a dead holder without telling (for the conveniences
/// `get`, `set`, …, whose data stays valid whatever a dead writer left: [`Shareable`]
/// rule 4).
///
/// [`Shareable`]: crate::Shareable
#[inline]
pub(crate) fn lock_anyway(lock: &AnyLock) -> AnyLockGuard<'_> {
    lock.lock().unwrap_or_else(OwnerDied::into_inner)
}

/// Panics unless the calling thread holds `lock`: what every guard checks right before it
/// touches the data (see the crate docs, "Soundness").
#[inline]
#[track_caller]
pub(crate) fn assert_held(lock: &AnyLock) {
    assert!(
        lock.is_held_by_current_thread(),
        "the lock guarding this shared data is not held by the calling thread \
         (released while a guard lived, or a guard copied into a forked child)"
    );
}
