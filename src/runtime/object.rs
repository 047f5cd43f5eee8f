//! The one object table: every resource a handle names (a socket, a semaphore, a pool...) is
//! an [`Object`] in it, whatever its type. The runtime never learns the types: it only closes
//! objects (when their API frees them, or when the thread owning them ends) and asks them to
//! describe themselves. A resource finds its own objects again by type: a handle of another
//! type misses, like a stale one (EBADF).

use std::any::Any;

use super::driver::Driver;
use super::sched::{Sched, ROOT};
use super::table::{Class, Table};
use crate::error::{Errno, Result};

/// What every resource implements to live in the object table.
pub(crate) trait Object: Any {
    /// A short name for reports, dumps and statistics ("socket", "semaphore").
    fn kind(&self) -> &'static str;

    /// Describes, for a thread dump, a wait on this object that its resource called `what`
    /// ("read", "semaphore"): by default `what`, then "on" and the kind unless `what` already
    /// starts with it. A resource adds what helps find the object (a socket its fd).
    fn describe_wait(&self, what: &'static str, out: &mut String) {
        out.push_str(what);
        if !what.starts_with(self.kind()) {
            out.push_str(" on ");
            out.push_str(self.kind());
        }
    }

    /// The object has been taken out of the table (freed, or its owner ended): wake whoever
    /// waits on it (with EBADF) and release what it holds. `cx` is the rest of the hub, so
    /// closing may touch other objects.
    fn close(self: Box<Self>, cx: &mut Cx<'_>);
}

/// What an object may use while it closes: everything of the hub.
pub(crate) struct Cx<'a> {
    pub(crate) objects: &'a mut Objects,
    pub(crate) sched: &'a mut Sched,
    pub(crate) driver: &'a mut Driver,
}

struct Entry {
    /// The thread whose end closes the object; the root (which never ends) for none.
    owner: u64,
    object: Box<dyn Object>,
}

pub(crate) struct Objects {
    table: Table<Entry>,
}

impl Objects {
    pub(crate) fn new(hub_tag: u16) -> Objects {
        Objects {
            table: Table::new(Class::Object, hub_tag),
        }
    }

    /// Stores `object` (owned by nobody); EMFILE when the table is full.
    pub(crate) fn insert<T: Object>(&mut self, object: T) -> Result<u64> {
        self.try_insert(object, ROOT)
            .map_err(|_| Errno(libc::EMFILE))
    }

    /// Stores `object`, owned by thread `owner` (the caller records it in the thread's list),
    /// or gives it back when the table is full.
    pub(crate) fn try_insert<T: Object>(
        &mut self,
        object: T,
        owner: u64,
    ) -> std::result::Result<u64, T> {
        let entry = Entry {
            owner,
            object: Box::new(object),
        };
        self.table.try_insert(entry).map_err(|entry| {
            let any: Box<dyn Any> = entry.object;
            *any.downcast::<T>()
                .expect("the entry was made from a T just above")
        })
    }

    pub(crate) fn get<T: Object>(&self, handle: u64) -> Option<&T> {
        let object: &dyn Any = self.table.get(handle)?.object.as_ref();
        object.downcast_ref()
    }

    pub(crate) fn get_mut<T: Object>(&mut self, handle: u64) -> Option<&mut T> {
        let object: &mut dyn Any = self.table.get_mut(handle)?.object.as_mut();
        object.downcast_mut()
    }

    /// True if `handle` names a live object of type `T`.
    pub(crate) fn is<T: Object>(&self, handle: u64) -> bool {
        self.get::<T>(handle).is_some()
    }

    /// Closes object `handle` whatever its type: takes it out of the table and out of its
    /// owner's list, then lets it close. False if there is no such object.
    pub(crate) fn close(&mut self, handle: u64, sched: &mut Sched, driver: &mut Driver) -> bool {
        let Some(entry) = self.table.remove(handle) else {
            return false;
        };
        if entry.owner != ROOT {
            if let Some(task) = sched.task_mut(entry.owner) {
                task.disown(handle);
            }
        }
        let mut cx = Cx {
            objects: self,
            sched,
            driver,
        };
        entry.object.close(&mut cx);
        true
    }

    /// Describes a wait `what` on object `handle` (see `Object::describe_wait`); false if
    /// there is no such object.
    pub(crate) fn describe_wait(&self, handle: u64, what: &'static str, out: &mut String) -> bool {
        match self.table.get(handle) {
            Some(entry) => {
                entry.object.describe_wait(what, out);
                true
            }
            None => false,
        }
    }

    /// How many objects of each kind there are, in order of first appearance.
    pub(crate) fn count_by_kind(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for (_, entry) in self.table.iter() {
            let kind = entry.object.kind();
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((kind, 1)),
            }
        }
        counts
    }

    pub(crate) fn owner(&self, handle: u64) -> Option<u64> {
        self.table.get(handle).map(|e| e.owner)
    }

    pub(crate) fn set_owner(&mut self, handle: u64, owner: u64) {
        if let Some(entry) = self.table.get_mut(handle) {
            entry.owner = owner;
        }
    }
}
