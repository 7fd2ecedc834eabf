//! Which reconciles start, as plain data: every credential asked for at most once in line,
//! never two reconciles of one credential at once, and no more than the slots allow.
//!
//! A credential is asked for by a change (its spec, a refresh request, a Secret it reads) or
//! by its wake-up. Asked for while it runs, it runs once more when that reconcile ends, so the
//! change is seen; asked for twice while waiting, it runs once. Those waiting start in the
//! order they were asked for: the wake-ups hand due credentials over earliest first.

use std::collections::{HashSet, VecDeque};

use crate::wakeups::Key;

/// The reconciles waiting and running.
#[derive(Debug, Default)]
pub struct Runs {
    waiting: VecDeque<Key>,
    queued: HashSet<Key>,
    running: HashSet<Key>,
    again: HashSet<Key>,
}

impl Runs {
    /// A reconcile of `key` is asked for.
    pub fn ask(&mut self, key: Key) {
        if self.running.contains(&key) {
            self.again.insert(key);
        } else if self.queued.insert(key.clone()) {
            self.waiting.push_back(key);
        }
    }

    /// The next reconcile to start, if fewer than `slots` run: it runs from now on.
    pub fn start(&mut self, slots: usize) -> Option<Key> {
        if self.running.len() >= slots {
            return None;
        }
        // A key forgotten while it waited is still in line: skipped here.
        while let Some(key) = self.waiting.pop_front() {
            if self.queued.remove(&key) {
                self.running.insert(key.clone());
                return Some(key);
            }
        }
        None
    }

    /// The reconcile of `key` ended; asked for meanwhile, it waits to run again.
    pub fn finish(&mut self, key: &Key) {
        self.running.remove(key);
        if self.again.remove(key) {
            self.ask(key.clone());
        }
    }

    /// The credential is gone: it no longer waits (one running ends by itself).
    pub fn forget(&mut self, key: &Key) {
        self.queued.remove(key);
        self.again.remove(key);
    }

    /// How many reconciles run.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Whether nothing waits or runs.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }
}

/// Whether reconciles may start yet. Not before the first list of credentials (there is
/// nothing to reconcile), and not before the Secret watches' first lists either, so that a
/// reconcile finds its client and managed Secrets in the caches rather than reading each
/// itself, unless a watch fails or the Secret lists take longer than [`SECRET_LISTS_WAIT`]
/// after the credentials: then they start as they would without the caches.
#[derive(Debug)]
pub struct Start {
    credentials_listed: bool,
    secret_lists_left: usize,
    given_up: bool,
}

/// How long reconciles wait for the Secret watches' first lists once the credentials are
/// listed. At 10,000 credentials (pages of 100) the lists took a few seconds on the real
/// server.
pub const SECRET_LISTS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Start {
    /// Waiting for the credentials and `secret_watches` Secret watches to list.
    pub fn new(secret_watches: usize) -> Self {
        Self {
            credentials_listed: false,
            secret_lists_left: secret_watches,
            given_up: false,
        }
    }

    pub fn credentials_listed(&mut self) {
        self.credentials_listed = true;
    }

    /// One Secret watch completed its first list.
    pub fn secrets_listed(&mut self) {
        self.secret_lists_left = self.secret_lists_left.saturating_sub(1);
    }

    /// A watch failed, or [`SECRET_LISTS_WAIT`] passed: the Secret lists are no longer
    /// waited for.
    pub fn give_up_waiting(&mut self) {
        self.given_up = true;
    }

    /// Whether the Secret lists are what reconciles wait for (and so the wait may run out).
    pub fn waiting_for_secrets(&self) -> bool {
        self.credentials_listed && !self.open()
    }

    pub fn open(&self) -> bool {
        self.credentials_listed && (self.secret_lists_left == 0 || self.given_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_start_once_credentials_and_secrets_are_listed_or_the_wait_is_given_up() {
        // (steps, open after them): c = credentials listed, s = a Secret list, g = given up.
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("c", false),
            ("cs", false),
            ("css", true),
            ("ssc", true),
            ("ss", false),
            ("cg", true),
            ("g", false),
            ("gc", true),
            ("csss", true),
        ];
        for (steps, open) in cases {
            let mut start = Start::new(2);
            for step in steps.chars() {
                match step {
                    'c' => start.credentials_listed(),
                    's' => start.secrets_listed(),
                    _ => start.give_up_waiting(),
                }
            }
            assert_eq!(start.open(), *open, "after {steps:?}");
            let waiting = steps.contains('c') && !open;
            assert_eq!(start.waiting_for_secrets(), waiting, "after {steps:?}");
        }
    }

    fn key(name: &str) -> Key {
        Key::new("shop", name)
    }

    fn started(runs: &mut Runs, slots: usize) -> Vec<String> {
        std::iter::from_fn(|| runs.start(slots))
            .map(|k| k.parts().1.to_owned())
            .collect()
    }

    #[test]
    fn credentials_start_in_the_order_asked_and_no_more_than_the_slots() {
        let mut runs = Runs::default();
        for name in ["c", "a", "b", "a"] {
            runs.ask(key(name));
        }
        assert_eq!(started(&mut runs, 2), ["c", "a"]);
        assert_eq!(started(&mut runs, 2), Vec::<String>::new());
        runs.finish(&key("c"));
        assert_eq!(started(&mut runs, 2), ["b"]);
        assert_eq!(runs.running(), 2);
    }

    #[test]
    fn a_credential_asked_for_while_it_runs_runs_once_more_after() {
        let mut runs = Runs::default();
        runs.ask(key("a"));
        assert_eq!(started(&mut runs, 4), ["a"]);
        runs.ask(key("a"));
        runs.ask(key("a"));
        assert_eq!(
            started(&mut runs, 4),
            Vec::<String>::new(),
            "never twice at once"
        );
        runs.finish(&key("a"));
        assert_eq!(started(&mut runs, 4), ["a"], "once, for both asks");
        runs.finish(&key("a"));
        assert!(runs.is_idle());
    }

    #[test]
    fn a_credential_not_asked_for_again_does_not_run_again() {
        let mut runs = Runs::default();
        runs.ask(key("a"));
        started(&mut runs, 1);
        runs.finish(&key("a"));
        assert_eq!(started(&mut runs, 1), Vec::<String>::new());
        assert!(runs.is_idle());
    }

    #[test]
    fn a_deleted_credential_no_longer_waits_nor_runs_again() {
        let mut runs = Runs::default();
        for name in ["a", "b", "c"] {
            runs.ask(key(name));
        }
        assert_eq!(started(&mut runs, 1), ["a"]);
        runs.ask(key("a"));
        runs.forget(&key("a"));
        runs.forget(&key("b"));
        runs.finish(&key("a"));
        assert_eq!(started(&mut runs, 1), ["c"]);
        runs.finish(&key("c"));
        assert!(runs.is_idle());
        runs.ask(key("b"));
        assert_eq!(started(&mut runs, 1), ["b"], "asked again after, it runs");
    }
}
