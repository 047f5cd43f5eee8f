//! Generational handle tables: a stale, closed or foreign handle never reaches a live value.
//!
//! A handle is a positive `i64`: `class:3 | hub:12 | generation:24 | index:24`. The class keeps
//! a thread id from being taken for an object (and an I/O slot for either), the hub tag keeps
//! another OS thread's handles out (tags are never reused, see `hub`), and the generation
//! changes each time a slot is freed, so a reused slot gets a new handle. The runtime keeps
//! three tables: tasks, objects (every resource, whatever its type) and I/O slots.
//!
//! A handle once freed never names another object for the life of the process: a slot whose
//! generation would wrap is retired (its index is never handed out again) instead of starting
//! over at generation 1. Retiring is chosen over a wider generation because the layout is part
//! of the C ABI, and because it costs almost nothing: one slot in 2^24 - 1 frees, and a table
//! runs out of indexes (EMFILE) only after 2^48 creations (nine years at a million a second).

use crate::error::{Errno, Result};

const INDEX_BITS: u32 = 24;
const GEN_BITS: u32 = 24;
const HUB_BITS: u32 = 12;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
const HUB_MASK: u64 = (1 << HUB_BITS) - 1;

/// The largest hub tag a handle can carry: tags run from 1, one per hub, never reused.
pub(crate) const HUB_TAG_MAX: u16 = HUB_MASK as u16;

/// Which table a handle belongs to; part of every handle.
#[derive(Clone, Copy)]
pub(crate) enum Class {
    Thread = 1,
    Object = 2,
    IoSlot = 3,
}

/// A slot keeps the whole handle of its value (of its next value while free): a lookup is
/// one comparison, which checks class, hub, generation and index at once.
struct Slot<T> {
    handle: u64,
    value: Option<T>,
}

pub(crate) struct Table<T> {
    slots: Vec<Slot<T>>,
    /// Free indexes, reused last-freed first; a retired slot is never put here.
    free: Vec<u32>,
    tag: u64,
}

/// The last generation a slot is used with; freeing it then retires the slot.
const LAST_GENERATION: u64 = GEN_MASK;

impl<T> Table<T> {
    pub(crate) fn new(class: Class, hub_tag: u16) -> Table<T> {
        debug_assert!((1..=HUB_TAG_MAX).contains(&hub_tag));
        let tag = ((class as u64) << (HUB_BITS + GEN_BITS + INDEX_BITS))
            | ((u64::from(hub_tag) & HUB_MASK) << (GEN_BITS + INDEX_BITS));
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            tag,
        }
    }

    /// Stores `value`; fails with EMFILE when every index is taken.
    pub(crate) fn insert(&mut self, value: T) -> Result<u64> {
        self.try_insert(value).map_err(|_| Errno(libc::EMFILE))
    }

    /// Stores `value`, or gives it back when every index is taken.
    pub(crate) fn try_insert(&mut self, value: T) -> std::result::Result<u64, T> {
        let index = match self.free.pop() {
            Some(index) => index as usize,
            None => {
                if self.slots.len() as u64 > INDEX_MASK {
                    return Err(value);
                }
                let index = self.slots.len();
                self.slots.push(Slot {
                    handle: self.handle_of(index, 1),
                    value: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index];
        slot.value = Some(value);
        Ok(slot.handle)
    }

    fn handle_of(&self, index: usize, generation: u64) -> u64 {
        self.tag | (generation << INDEX_BITS) | index as u64
    }

    #[inline]
    fn index_of(&self, handle: u64) -> Option<usize> {
        let index = (handle & INDEX_MASK) as usize;
        let slot = self.slots.get(index)?;
        (slot.handle == handle && slot.value.is_some()).then_some(index)
    }

    pub(crate) fn get(&self, handle: u64) -> Option<&T> {
        let index = self.index_of(handle)?;
        self.slots[index].value.as_ref()
    }

    pub(crate) fn get_mut(&mut self, handle: u64) -> Option<&mut T> {
        let index = self.index_of(handle)?;
        self.slots[index].value.as_mut()
    }

    pub(crate) fn remove(&mut self, handle: u64) -> Option<T> {
        let index = self.index_of(handle)?;
        let generation = (handle >> INDEX_BITS) & GEN_MASK;
        // Generations run from 1 (0 is never issued, so a zero handle never matches) to
        // LAST_GENERATION. Wrapping would make the first handle of this slot valid again, so a
        // slot at its last generation is retired: it stays empty and off the free list.
        if generation < LAST_GENERATION {
            self.slots[index].handle = self.handle_of(index, generation + 1);
            self.free.push(index as u32);
        }
        self.slots[index].value.take()
    }

    /// Every live value with its handle, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.slots
            .iter()
            .filter_map(|slot| Some((slot.handle, slot.value.as_ref()?)))
    }

    /// Test hook: makes the free slot `index` continue from `generation`, as if it had been
    /// used that many times, so the wrap can be reached without 2^24 real reuses.
    #[cfg(test)]
    fn age_free_slot(&mut self, index: usize, generation: u64) {
        assert!(self.slots[index].value.is_none() && self.free.contains(&(index as u32)));
        self.slots[index].handle = self.handle_of(index, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_foreign_handles_miss() {
        let mut a: Table<u32> = Table::new(Class::Object, 1);
        let b: Table<u32> = Table::new(Class::Thread, 1);
        let other_hub: Table<u32> = Table::new(Class::Object, 2);
        let h = a.insert(7).unwrap();
        assert!(h > 0 && (h as i64) > 0);
        assert_eq!(a.get(h), Some(&7));
        assert!(b.get(h).is_none());
        assert!(other_hub.get(h).is_none());
        assert_eq!(a.remove(h), Some(7));
        assert!(a.get(h).is_none());
        let h2 = a.insert(8).unwrap();
        assert_ne!(h, h2, "a reused slot gets a new handle");
        assert!(a.get(h).is_none());
        assert_eq!(a.get(h2), Some(&8));
        assert!(a.get(0).is_none() && a.get(u64::MAX).is_none());
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let mut t: Table<u32> = Table::new(Class::Object, 1);
        let first = t.insert(0).unwrap();
        let index = (first & INDEX_MASK) as usize;
        t.remove(first);
        t.age_free_slot(index, LAST_GENERATION - 2);
        // The last three generations of the slot, each handle freed in turn.
        let mut old = vec![first];
        for value in 1..=3 {
            let h = t.insert(value).unwrap();
            assert_eq!(h & INDEX_MASK, index as u64, "the free slot is reused");
            assert!(old.iter().all(|&o| t.get(o).is_none() && o != h));
            assert_eq!(t.remove(h), Some(value));
            old.push(h);
        }
        assert_eq!((old[3] >> INDEX_BITS) & GEN_MASK, LAST_GENERATION);
        // Retired: the next objects get other slots, and no freed handle ever comes back.
        for value in 4..10 {
            let h = t.insert(value).unwrap();
            assert_ne!(h & INDEX_MASK, index as u64, "a retired slot was reused");
            assert!(old.iter().all(|&o| t.get(o).is_none() && o != h));
            assert_eq!(t.remove(h), Some(value));
        }
    }
}
