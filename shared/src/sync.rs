//! Locks that ignore poisoning: the one way the workspace takes a `std::sync::Mutex` or
//! `RwLock` (`use pipeline::sync::{MutexExt as _, RwLockExt as _}`).
//!
//! Why poisoning is ignored: a poisoned lock only records that some thread panicked while
//! holding it. Passing that on would make every later user of the lock panic too, so one bug
//! in one request or batch (which tokio confines to its task) would stop the whole pipeline.
//! What these locks guard is in-memory bookkeeping (counters, histograms, the store's maps,
//! SQLite connections whose transactions roll back when dropped) next to a durable copy on
//! disk; the value is used as the panicking thread left it.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// [`Mutex`] access that ignores poisoning (see the module's doc for why).
pub trait MutexExt<T: ?Sized> {
    /// Locks the mutex, poisoned or not.
    fn lock_ignoring_poison(&self) -> MutexGuard<'_, T>;
    /// The value, through `&mut` (no locking), poisoned or not.
    fn get_mut_ignoring_poison(&mut self) -> &mut T;
}

impl<T: ?Sized> MutexExt<T> for Mutex<T> {
    fn lock_ignoring_poison(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get_mut_ignoring_poison(&mut self) -> &mut T {
        self.get_mut().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`RwLock`] access that ignores poisoning (see the module's doc for why).
pub trait RwLockExt<T: ?Sized> {
    /// Takes a shared read lock, poisoned or not.
    fn read_ignoring_poison(&self) -> RwLockReadGuard<'_, T>;
    /// Takes the exclusive write lock, poisoned or not.
    fn write_ignoring_poison(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLockExt<T> for RwLock<T> {
    fn read_ignoring_poison(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_ignoring_poison(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_still_gives_its_value() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let lock = std::sync::Arc::new(RwLock::new(2));
        let (m, l) = (mutex.clone(), lock.clone());
        let _ = std::thread::spawn(move || {
            let _held = (m.lock().unwrap(), l.write().unwrap());
            panic!("poison both");
        })
        .join();
        assert!(mutex.is_poisoned() && lock.is_poisoned());
        *mutex.lock_ignoring_poison() += 10;
        *lock.write_ignoring_poison() += 20;
        assert_eq!((*mutex.lock_ignoring_poison(), *lock.read_ignoring_poison()), (11, 22));
        let mut owned = std::sync::Arc::try_unwrap(mutex).unwrap();
        assert_eq!(*owned.get_mut_ignoring_poison(), 11);
    }
}
