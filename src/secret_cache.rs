//! What the operator knows of Secrets without asking the API server again.
//!
//! Only Secrets with one of two labels are watched, so Secrets of other tools cost nothing:
//! - managed Secrets ([`MANAGED_SELECTOR`]), by metadata only and without a store of their
//!   own: what the operator last wrote is kept (`written`) until the watch shows the Secret at
//!   another version, or gone;
//! - client and bootstrap Secrets that their owners labelled [`WATCH_LABEL`]`=true`, by
//!   their data and version only (one allocation each, not the whole Secret): a
//!   reconcile takes them from memory, and a change to one reconciles the credentials that
//!   read it.
//!
//! A referenced Secret without the label is read from the API server each time a reconcile
//! needs it, and a change to it is seen at the credential's next reconcile.

use std::{
    borrow::Cow,
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::{Arc, Mutex, RwLock},
};

use k8s_openapi::api::core::v1::Secret;
use kube::{api::ObjectMeta, core::PartialObjectMeta, runtime::watcher};

use crate::{
    managed_secret::{StoredTokens, keys},
    sensitive::Sensitive,
    tokens::{AccessToken, Lifetime, TokenPair},
};

mod compact;

/// `namespace/name`: one allocation, and 16 bytes in a map's table.
type Key = Box<str>;

/// A managed Secret as the operator last wrote it.
#[derive(Clone, Debug)]
pub struct Written {
    /// The UID of the credential that wrote it: another credential naming the same Secret
    /// must read it, and find it is not its own.
    pub by: Box<str>,
    pub resource_version: Box<str>,
    /// The tokens written, the access token withheld: a rewrite reads it back.
    pub tokens: StoredTokens,
    /// [`body_hash`] of what was applied: compared with what the credential now wants.
    pub body: u64,
}

impl Written {
    /// What is kept of `desired`, written with `tokens` by the credential `by` and now at
    /// `resource_version`.
    pub fn new(by: &str, resource_version: &str, tokens: &StoredTokens, desired: &Secret) -> Self {
        Self {
            by: by.into(),
            resource_version: resource_version.into(),
            tokens: StoredTokens {
                pair: tokens.pair.withheld(),
                issued_for: tokens.issued_for.clone(),
            },
            body: body_hash(desired),
        }
    }
}

/// A [`Written`] as the cache keeps it: what has a fixed size in the open, the four strings
/// in one buffer, each in the fewest bytes it fits ([`compact`]). About 450 bytes of heap for
/// a written Secret instead of 670 in five allocations as strings (a refresh token of 357
/// bytes).
///
/// A new write overwrites the record in place, its strings too when they are as long as
/// before, as they almost always are. Replaced with a new one at each renewal, allocated
/// among the buffers of the reconcile that wrote it, the records of a burst of renewals ended
/// up a few to a page of the heap once those buffers were freed, and the heap stayed that
/// large (docs/performance.md, "Where the peak came from").
struct Record {
    access_token: u64,
    access: Lifetime,
    refresh: Lifetime,
    body: u64,
    /// `by`, `resource_version` and `issued_for`, each packed ([`compact::pack`]) after its
    /// packed length (4 bytes, little endian), then the refresh token packed.
    text: Box<[u8]>,
}

impl Record {
    fn new(written: &Written) -> Self {
        Self {
            text: text(written).as_slice().into(),
            ..Self::fixed(written)
        }
    }

    /// Becomes `written`, in the buffer it has if that is the right size.
    fn overwrite(&mut self, written: &Written) {
        let text = text(written);
        let text = if text.len() == self.text.len() {
            self.text.copy_from_slice(&text);
            std::mem::take(&mut self.text)
        } else {
            text.as_slice().into()
        };
        *self = Self {
            text,
            ..Self::fixed(written)
        };
    }

    /// What has a fixed size, with no text.
    fn fixed(written: &Written) -> Self {
        let pair = &written.tokens.pair;
        Self {
            access_token: pair.access_token.digest(),
            access: pair.access,
            refresh: pair.refresh,
            body: written.body,
            text: Box::default(),
        }
    }

    /// The record as written. `None` only if its buffer were damaged, which nothing but a
    /// bug in this module could do: the Secret is then read again.
    fn written(&self) -> Option<Written> {
        let (by, rest) = field(&self.text)?;
        let (resource_version, rest) = field(rest)?;
        let (issued_for, refresh_token) = field(rest)?;
        let refresh_token = compact::unpack(refresh_token)?;
        Some(Written {
            by: by.into(),
            resource_version: resource_version.into(),
            tokens: StoredTokens {
                pair: TokenPair {
                    access_token: AccessToken::Withheld(self.access_token),
                    refresh_token: Sensitive::new(refresh_token),
                    access: self.access,
                    refresh: self.refresh,
                },
                issued_for: issued_for.into(),
            },
            body: self.body,
        })
    }

    fn resource_version(&self) -> Option<Cow<'_, str>> {
        let (_, rest) = field(&self.text)?;
        Some(field(rest)?.0)
    }
}

/// The record's text, in a buffer with room to spare: copied into one of its exact size to be
/// kept.
fn text(written: &Written) -> Vec<u8> {
    let fields = [
        &*written.by,
        &*written.resource_version,
        &*written.tokens.issued_for,
    ];
    let token = written.tokens.pair.refresh_token.expose();
    let mut text =
        Vec::with_capacity(fields.iter().map(|f| f.len() + 5).sum::<usize>() + token.len() + 1);
    let mut packed = vec![];
    for f in fields {
        packed.clear();
        compact::pack(f, &mut packed);
        // Lengths beyond 4 GiB cannot come from an API server's answer.
        text.extend_from_slice(
            &u32::try_from(packed.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        text.extend_from_slice(&packed);
    }
    compact::pack(token, &mut text);
    text
}

/// The string packed at the start of `text` (after its length), and what follows it.
fn field(text: &[u8]) -> Option<(Cow<'_, str>, &[u8])> {
    let (len, rest) = text.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (value, rest) = rest.split_at_checked(len)?;
    Some((compact::unpack(value)?, rest))
}

/// The label a user puts on a client or bootstrap Secret so the operator watches it.
pub const WATCH_LABEL: &str = "wetix.my/watch";

/// The label selector of the watch of labelled client and bootstrap Secrets.
pub const WATCH_SELECTOR: &str = "wetix.my/watch=true";

/// The label selector of the watch of managed Secrets.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=wetix-operator";

#[derive(Default)]
pub struct SecretCache {
    referenced: RwLock<Referenced>,
    /// Boxed: a map's table has a slot for each of its spare capacity too.
    written: Mutex<HashMap<Key, Box<Record>>>,
    /// Credentials in `SecretConflict`, by the Secret another credential holds: a change to
    /// that Secret (its owner gone, say) concerns them too. Rare, so kept apart.
    waiting: Mutex<HashMap<Key, Vec<String>>>,
    /// Which managed Secrets exist, as fingerprints of their names: one the watch has not
    /// seen is claimed without being read first.
    present: Mutex<Present>,
}

/// The labelled client and bootstrap Secrets, as their watches last saw them.
///
/// One watch runs per watched namespace (or one for all), and each list replaces only what
/// that watch covers: the Secrets of its namespace, or all of them. As in kube-runtime's
/// reflector, what a list shows is served only once it completes; until then the Secrets of
/// the list before are.
#[derive(Default)]
struct Referenced {
    served: Namespaces,
    /// Lists under way, by the namespace their watch covers (`None`: all namespaces).
    listing: Vec<(Option<Box<str>>, Namespaces)>,
}

/// Secrets by namespace, then name: a namespace's name is kept once, not once per Secret.
type Namespaces = HashMap<Box<str>, HashMap<Box<str>, Entry>>;

/// What a reconcile reads of a labelled Secret: its data. And its version, to tell which one
/// it read. All in one allocation (see [`Entry::of`]), not two for each key. No `Debug`: the
/// values are client secrets and refresh tokens.
struct Entry {
    packed: Box<[u8]>,
}

impl Entry {
    /// The version (empty: none), then each key and value, each as its length (4 bytes,
    /// little-endian) and its bytes. A Secret's data is at most 1 MiB.
    fn of(secret: &Secret) -> Self {
        let version = secret
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or_default();
        let data = secret.data.iter().flatten();
        let mut fields = vec![version.as_bytes()];
        for (key, value) in data {
            fields.extend([key.as_bytes(), value.0.as_slice()]);
        }
        let mut packed = Vec::with_capacity(fields.iter().map(|f| 4 + f.len()).sum());
        for field in fields {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            packed.extend(len.to_le_bytes());
            packed.extend(field);
        }
        Self {
            packed: packed.into_boxed_slice(),
        }
    }

    /// The fields in the order [`Entry::of`] wrote them.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = &self.packed[..];
        std::iter::from_fn(move || {
            let (len, after) = rest.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            let (field, after) = after.split_at_checked(len)?;
            rest = after;
            Some(field)
        })
    }

    /// The Secret again, with what was kept of it.
    fn secret(&self, namespace: &str, name: &str) -> Secret {
        let mut fields = self.fields();
        let version = fields.next().unwrap_or_default();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let mut data = std::collections::BTreeMap::new();
        while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
            data.insert(text(key), k8s_openapi::ByteString(value.to_vec()));
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                resource_version: (!version.is_empty()).then(|| text(version)),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        }
    }
}

impl Referenced {
    fn seen(&mut self, scope: Option<&str>, event: &watcher::Event<Secret>) {
        match event {
            watcher::Event::Init => {
                self.listing.retain(|(s, _)| s.as_deref() != scope);
                self.listing
                    .push((scope.map(Box::from), Namespaces::default()));
            }
            watcher::Event::InitApply(secret) => {
                let listing = self.listing.iter_mut().find(|(s, _)| s.as_deref() == scope);
                if let Some((_, listing)) = listing {
                    put(listing, secret);
                }
            }
            watcher::Event::InitDone => {
                let at = self.listing.iter().position(|(s, _)| s.as_deref() == scope);
                let listed = at.map(|at| self.listing.swap_remove(at).1);
                let listed = listed.unwrap_or_default();
                match scope {
                    None => self.served = listed,
                    Some(namespace) => {
                        self.served.remove(namespace);
                        self.served.extend(listed);
                    }
                }
            }
            watcher::Event::Apply(secret) => put(&mut self.served, secret),
            watcher::Event::Delete(secret) => {
                let metadata = &secret.metadata;
                let namespace = metadata.namespace.as_deref().unwrap_or_default();
                let name = metadata.name.as_deref().unwrap_or_default();
                if let Some(names) = self.served.get_mut(namespace) {
                    names.remove(name);
                    if names.is_empty() {
                        self.served.remove(namespace);
                    }
                }
            }
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<&Entry> {
        self.served.get(namespace)?.get(name)
    }
}

fn put(namespaces: &mut Namespaces, secret: &Secret) {
    let metadata = &secret.metadata;
    let (Some(namespace), Some(name)) = (metadata.namespace.as_deref(), metadata.name.as_deref())
    else {
        return;
    };
    let entry = Entry::of(secret);
    let names = match namespaces.get_mut(namespace) {
        Some(names) => names,
        None => namespaces.entry(namespace.into()).or_default(),
    };
    match names.get_mut(name) {
        Some(kept) => *kept = entry,
        None => {
            names.insert(name.into(), entry);
        }
    }
}

/// The managed Secrets the watch has listed and seen since, by [`name_hash`]. A collision
/// only costs a read.
#[derive(Debug, Default)]
struct Present {
    /// Whether a list has completed and no new one is under way: only then is a Secret the
    /// watch has not seen known to be absent.
    listed: bool,
    names: std::collections::HashSet<u64>,
    /// A list under way: what it has shown so far.
    listing: Option<std::collections::HashSet<u64>>,
}

impl Present {
    fn seen(&mut self, event: &watcher::Event<PartialObjectMeta<Secret>>) {
        match event {
            watcher::Event::Init => {
                self.listed = false;
                self.listing = Some(Default::default());
            }
            watcher::Event::InitApply(secret) => {
                if let Some(listing) = self.listing.as_mut() {
                    listing.insert(hash_of(secret));
                }
            }
            watcher::Event::InitDone => {
                self.names = self.listing.take().unwrap_or_default();
                self.listed = true;
            }
            watcher::Event::Apply(secret) => {
                self.names.insert(hash_of(secret));
                if let Some(listing) = self.listing.as_mut() {
                    listing.insert(hash_of(secret));
                }
            }
            watcher::Event::Delete(secret) => {
                self.names.remove(&hash_of(secret));
                if let Some(listing) = self.listing.as_mut() {
                    listing.remove(&hash_of(secret));
                }
            }
        }
    }
}

/// A fingerprint of a Secret's namespace and name.
fn name_hash(namespace: &str, name: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (namespace, name).hash(&mut hasher);
    hasher.finish()
}

fn hash_of(secret: &PartialObjectMeta<Secret>) -> u64 {
    let metadata = &secret.metadata;
    let namespace = metadata.namespace.as_deref().unwrap_or_default();
    name_hash(namespace, metadata.name.as_deref().unwrap_or_default())
}

impl SecretCache {
    /// Takes one event of a managed-Secret watch: a Secret seen at a version other than the
    /// one we wrote, or gone, is no longer what we wrote. A new list (the watch was
    /// interrupted, and may have missed a deletion) forgets every write: each is read again.
    pub fn managed_seen(&self, event: &watcher::Event<PartialObjectMeta<Secret>>) {
        self.present
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen(event);
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            watcher::Event::Init => written.clear(),
            watcher::Event::InitDone => {}
            watcher::Event::Apply(seen) | watcher::Event::InitApply(seen) => {
                let key = key_of(seen);
                let seen_at = seen.metadata.resource_version.as_deref();
                let moved = written
                    .get(&key)
                    .is_some_and(|w| w.resource_version().is_none_or(|rv| moved_on(seen_at, &rv)));
                if moved {
                    written.remove(&key);
                }
            }
            watcher::Event::Delete(gone) => {
                written.remove(&key_of(gone));
            }
        }
    }

    /// Whether no managed Secret of this name exists, as far as the watch knows: then it can
    /// be claimed without reading it first (a claim of a Secret that does exist is refused,
    /// and the Secret read then).
    pub fn known_absent(&self, namespace: &str, name: &str) -> bool {
        let present = self.present.lock().unwrap_or_else(|e| e.into_inner());
        present.listed && !present.names.contains(&name_hash(namespace, name))
    }

    /// Takes one event of the watch of labelled client and bootstrap Secrets that covers
    /// `scope` (a namespace; `None` for all): a list replaces what that watch covers, and
    /// nothing else.
    pub fn referenced_seen(&self, scope: Option<&str>, event: &watcher::Event<Secret>) {
        self.referenced
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .seen(scope, event);
    }

    /// A labelled client or bootstrap Secret as its watch last saw it: its name, namespace,
    /// resourceVersion and data, all a reconcile reads. `None` for a Secret without the label
    /// (or not there): it has to be read.
    pub fn referenced(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let referenced = self.referenced.read().unwrap_or_else(|e| e.into_inner());
        let entry = referenced.get(namespace, name)?;
        Some(Arc::new(entry.secret(namespace, name)))
    }

    /// The managed Secret as we wrote it, if nobody changed it since.
    pub fn written(&self, namespace: &str, name: &str) -> Option<Written> {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.get(&key(namespace, name))?.written()
    }

    pub fn remember_written(&self, namespace: &str, name: &str, written: Written) {
        let mut map = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let key = key(namespace, name);
        match map.get_mut(&key) {
            Some(kept) => kept.overwrite(&written),
            None => {
                map.insert(key, Box::new(Record::new(&written)));
            }
        }
    }

    /// Whether a Secret at this version is exactly what our last write left: the watch event
    /// of our own write needs no reconcile.
    pub fn is_own_write(
        &self,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> bool {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        resource_version.is_some()
            && written
                .get(&key(namespace, name))
                .and_then(|w| w.resource_version())
                .as_deref()
                == resource_version
    }

    /// Records whether `credential` waits for the Secret `name`, held by another credential.
    pub fn set_waiting(&self, namespace: &str, name: &str, credential: &str, waits: bool) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.is_empty() && !waits {
            // Every status write asks; almost always nobody waits for anything.
            return;
        }
        let key = key(namespace, name);
        let names = waiting.entry(key.clone()).or_default();
        names.retain(|n| n != credential);
        if waits {
            names.push(credential.to_owned());
        }
        if names.is_empty() {
            waiting.remove(&key);
        }
    }

    /// The credentials that wait for the Secret `name`.
    pub fn waiting_for(&self, namespace: &str, name: &str) -> Vec<String> {
        let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting
            .get(&key(namespace, name))
            .cloned()
            .unwrap_or_default()
    }

    /// Drops what is kept for a managed Secret whose credential is gone.
    pub fn forget_written(&self, namespace: &str, name: &str) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.remove(&key(namespace, name));
    }
}

fn key(namespace: &str, name: &str) -> Key {
    // A namespace name never holds a `/`.
    format!("{namespace}/{name}").into_boxed_str()
}

/// Whether a Secret seen at `seen` is no longer the version we wrote. The watch can deliver
/// the events of our own earlier writes (the claim, the last renewal) after the answer to
/// our latest one: where versions are numbers, as the API server's etcd revisions are, an
/// older one is such an echo. Other versions count as moved unless equal.
fn moved_on(seen: Option<&str>, written: &str) -> bool {
    let Some(seen) = seen else {
        return true;
    };
    match (seen.parse::<u64>(), written.parse::<u64>()) {
        (Ok(seen), Ok(written)) => seen > written,
        _ => seen != written,
    }
}

fn key_of(secret: &PartialObjectMeta<Secret>) -> Key {
    let metadata = &secret.metadata;
    let namespace = metadata.namespace.as_deref().unwrap_or_default();
    key(namespace, metadata.name.as_deref().unwrap_or_default())
}

/// A fingerprint of an apply body: equal bodies, equal hashes. The keys holding the access
/// token are left out, so that a body built with the token withheld hashes as the one
/// written; the token's fingerprint annotation tells one token from another.
pub fn body_hash(secret: &Secret) -> u64 {
    let mut secret = secret.clone();
    if let Some(data) = secret.data.as_mut() {
        data.remove(keys::ACCESS_TOKEN);
        data.remove(keys::AUTHORIZATION);
    }
    // serde_json fails only on a map with non-string keys or a `Serialize` impl that errors; a
    // Secret is strings, string-keyed maps and bytes (written as base64 strings).
    #[allow(clippy::expect_used, reason = "a Secret always serializes")]
    let bytes = serde_json::to_vec(&secret).expect("a Secret always serializes");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::pair, sensitive::Sensitive};
    use kube::api::ObjectMeta;
    use kube::runtime::watcher;

    fn meta(name: &str, rv: &str) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            _phantom: Default::default(),
        }
    }

    fn secret(name: &str, rv: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    /// A cache whose managed-Secret watch has listed `objects`.
    fn cache_seeing(objects: Vec<PartialObjectMeta<Secret>>) -> SecretCache {
        let cache = SecretCache::default();
        see(&cache, objects);
        cache
    }

    fn see(cache: &SecretCache, objects: Vec<PartialObjectMeta<Secret>>) {
        cache.managed_seen(&watcher::Event::Init);
        for o in objects {
            cache.managed_seen(&watcher::Event::InitApply(o));
        }
        cache.managed_seen(&watcher::Event::InitDone);
    }

    fn referenced_seeing(objects: Vec<Secret>) -> SecretCache {
        let cache = SecretCache::default();
        list_referenced(&cache, None, objects);
        cache
    }

    /// One list of the labelled-Secret watch that covers `scope`.
    fn list_referenced(cache: &SecretCache, scope: Option<&str>, objects: Vec<Secret>) {
        cache.referenced_seen(scope, &watcher::Event::Init);
        for o in objects {
            cache.referenced_seen(scope, &watcher::Event::InitApply(o));
        }
        cache.referenced_seen(scope, &watcher::Event::InitDone);
    }

    /// A labelled Secret in `namespace` at `rv` with these data.
    fn labelled(namespace: &str, name: &str, rv: &str, pairs: &[(&str, &str)]) -> Secret {
        let data = pairs.iter().map(|(k, v)| {
            (
                k.to_string(),
                k8s_openapi::ByteString(v.as_bytes().to_vec()),
            )
        });
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                resource_version: Some(rv.into()),
                uid: Some("5e1d".into()),
                labels: Some([(WATCH_LABEL.to_owned(), "true".to_owned())].into()),
                ..ObjectMeta::default()
            },
            data: Some(data.collect()),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    /// The version at which `namespace`/`name` is served, if it is.
    fn served_at(cache: &SecretCache, namespace: &str, name: &str) -> Option<String> {
        let served = cache.referenced(namespace, name)?;
        served.metadata.resource_version.clone()
    }

    #[test]
    fn a_labelled_secret_is_served_as_its_watch_last_saw_it_and_others_are_read() {
        let cache = referenced_seeing(vec![secret("wetix-client", "7")]);
        let served = cache.referenced("shop", "wetix-client");
        assert_eq!(
            served.and_then(|s| s.metadata.resource_version.clone()),
            Some("7".into())
        );
        assert!(cache.referenced("shop", "unlabelled-client").is_none());
        assert!(cache.referenced("billing", "wetix-client").is_none());
    }

    #[test]
    fn a_kept_secret_gives_back_exactly_its_version_and_data() {
        let bytes = |v: &[u8]| k8s_openapi::ByteString(v.to_vec());
        let many: std::collections::BTreeMap<_, _> = (0..40)
            .map(|i| (format!("key-{i}"), bytes(&[i; 300])))
            .collect();
        let cases = [
            (
                Some("7"),
                Some([("client_id".to_owned(), bytes(b"ticketing\n"))].into()),
            ),
            (
                None,
                Some([("binary".to_owned(), bytes(&[0, 255, 13, 10]))].into()),
            ),
            (
                Some("8"),
                Some(
                    [
                        ("empty".to_owned(), bytes(b"")),
                        ("".to_owned(), bytes(b"x")),
                    ]
                    .into(),
                ),
            ),
            (Some("9"), None),
            (Some("10"), Some(many)),
        ];
        for (version, data) in cases {
            let mut secret = secret("wetix-client", version.unwrap_or_default());
            secret.metadata.resource_version = version.map(str::to_owned);
            secret.data = data.clone();
            let kept = Entry::of(&secret).secret("shop", "wetix-client");
            assert_eq!(kept.metadata.resource_version.as_deref(), version);
            assert_eq!(kept.data, Some(data.unwrap_or_default()), "{version:?}");
            assert_eq!(kept.metadata.name.as_deref(), Some("wetix-client"));
            assert_eq!(kept.metadata.namespace.as_deref(), Some("shop"));
        }
    }

    #[test]
    fn a_served_secret_yields_the_client_credentials_its_watch_saw() {
        use crate::{client_secret, credential::ClientSecretRef};
        let cache = referenced_seeing(vec![labelled(
            "shop",
            "wetix-client",
            "7",
            &[("client_id", "ticketing\n"), ("client_secret", "p4ss-w0rd")],
        )]);
        let served = cache.referenced("shop", "wetix-client").unwrap();
        assert_eq!(served.metadata.name.as_deref(), Some("wetix-client"));
        assert_eq!(served.metadata.namespace.as_deref(), Some("shop"));
        let reference = ClientSecretRef {
            name: "wetix-client".into(),
            client_id_key: "client_id".into(),
            client_secret_key: "client_secret".into(),
        };
        let credentials = client_secret::client_credentials(Some(&served), &reference).unwrap();
        assert_eq!(credentials.client_id, "ticketing");
        assert_eq!(credentials.client_secret.expose(), "p4ss-w0rd");
        let missing = ClientSecretRef {
            client_secret_key: "secret".into(),
            ..reference
        };
        assert!(client_secret::client_credentials(Some(&served), &missing).is_err());
    }

    #[test]
    fn a_change_replaces_the_served_secret_and_a_deletion_removes_it() {
        let cache = referenced_seeing(vec![
            labelled("shop", "wetix-client", "7", &[("client_secret", "old")]),
            labelled("shop", "wetix-bootstrap", "8", &[("refresh_token", "r1")]),
        ]);
        let changed = labelled("shop", "wetix-client", "9", &[("client_secret", "new")]);
        cache.referenced_seen(None, &watcher::Event::Apply(changed));
        let served = cache.referenced("shop", "wetix-client").unwrap();
        assert_eq!(served.metadata.resource_version.as_deref(), Some("9"));
        let data = served.data.as_ref().unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["client_secret"]);
        assert_eq!(data["client_secret"].0, b"new");

        let added = labelled("billing", "wetix-client", "10", &[]);
        cache.referenced_seen(None, &watcher::Event::Apply(added));
        assert_eq!(
            served_at(&cache, "billing", "wetix-client"),
            Some("10".into())
        );

        let gone = labelled("shop", "wetix-client", "11", &[]);
        cache.referenced_seen(None, &watcher::Event::Delete(gone));
        assert!(cache.referenced("shop", "wetix-client").is_none());
        assert_eq!(
            served_at(&cache, "shop", "wetix-bootstrap"),
            Some("8".into())
        );
        assert_eq!(
            served_at(&cache, "billing", "wetix-client"),
            Some("10".into())
        );
    }

    #[test]
    fn a_new_list_is_served_once_complete_and_what_it_lacks_is_gone() {
        let cache = SecretCache::default();
        let scope = Some("shop");
        cache.referenced_seen(scope, &watcher::Event::Init);
        let first = labelled("shop", "wetix-client", "7", &[]);
        cache.referenced_seen(scope, &watcher::Event::InitApply(first));
        assert!(
            cache.referenced("shop", "wetix-client").is_none(),
            "the first list is under way"
        );
        cache.referenced_seen(scope, &watcher::Event::InitDone);
        assert_eq!(served_at(&cache, "shop", "wetix-client"), Some("7".into()));

        // The watch was interrupted; meanwhile the client Secret was edited and another
        // deleted.
        let bootstrap = labelled("shop", "wetix-bootstrap", "8", &[]);
        cache.referenced_seen(scope, &watcher::Event::Apply(bootstrap));
        cache.referenced_seen(scope, &watcher::Event::Init);
        let edited = labelled("shop", "wetix-client", "12", &[]);
        cache.referenced_seen(scope, &watcher::Event::InitApply(edited));
        assert_eq!(
            served_at(&cache, "shop", "wetix-bootstrap"),
            Some("8".into()),
            "the list before is served until this one completes"
        );
        cache.referenced_seen(scope, &watcher::Event::InitDone);
        assert_eq!(served_at(&cache, "shop", "wetix-client"), Some("12".into()));
        assert!(cache.referenced("shop", "wetix-bootstrap").is_none());
    }

    #[test]
    fn the_list_of_one_namespace_s_watch_leaves_the_other_namespaces_alone() {
        let cache = SecretCache::default();
        list_referenced(
            &cache,
            Some("shop"),
            vec![labelled("shop", "wetix-client", "7", &[])],
        );
        list_referenced(
            &cache,
            Some("billing"),
            vec![labelled("billing", "wetix-client", "8", &[])],
        );

        // Both watches list again, interleaved; the shop Secret is gone.
        cache.referenced_seen(Some("shop"), &watcher::Event::Init);
        cache.referenced_seen(Some("billing"), &watcher::Event::Init);
        let billing = labelled("billing", "wetix-client", "9", &[]);
        cache.referenced_seen(Some("billing"), &watcher::Event::InitApply(billing));
        cache.referenced_seen(Some("shop"), &watcher::Event::InitDone);
        assert!(cache.referenced("shop", "wetix-client").is_none());
        assert_eq!(
            served_at(&cache, "billing", "wetix-client"),
            Some("8".into())
        );
        cache.referenced_seen(Some("billing"), &watcher::Event::InitDone);
        assert_eq!(
            served_at(&cache, "billing", "wetix-client"),
            Some("9".into())
        );
    }

    #[test]
    fn the_list_of_a_watch_of_all_namespaces_replaces_every_namespace() {
        let cache = referenced_seeing(vec![
            labelled("shop", "wetix-client", "7", &[]),
            labelled("billing", "wetix-client", "8", &[]),
        ]);
        list_referenced(
            &cache,
            None,
            vec![labelled("billing", "wetix-client", "8", &[])],
        );
        assert!(cache.referenced("shop", "wetix-client").is_none());
        assert_eq!(
            served_at(&cache, "billing", "wetix-client"),
            Some("8".into())
        );
    }

    #[test]
    fn the_selectors_are_the_labels_they_select() {
        use crate::managed_secret::labels;
        let managed = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
        assert_eq!(MANAGED_SELECTOR, managed);
        assert_eq!(WATCH_SELECTOR, format!("{WATCH_LABEL}=true"));
    }

    fn written(rv: &str) -> Written {
        Written {
            by: "u1".into(),
            resource_version: rv.into(),
            tokens: StoredTokens {
                pair: pair("2026-11-25T10:00:00Z", 100, 1000),
                issued_for: "f".into(),
            },
            body: 1,
        }
    }

    #[test]
    fn a_written_secret_is_ours_until_the_watch_sees_it_changed_or_gone() {
        let cache = cache_seeing(vec![meta("ticketing-token", "9")]);
        cache.remember_written("shop", "ticketing-token", written("9"));
        assert!(cache.written("shop", "ticketing-token").is_some());
        assert!(cache.is_own_write("shop", "ticketing-token", Some("9")));
        assert!(!cache.is_own_write("shop", "ticketing-token", Some("10")));

        // The echo of our own write changes nothing; an edit does.
        cache.managed_seen(&watcher::Event::Apply(meta("ticketing-token", "9")));
        assert!(cache.written("shop", "ticketing-token").is_some());
        cache.managed_seen(&watcher::Event::Apply(meta("ticketing-token", "10")));
        assert!(cache.written("shop", "ticketing-token").is_none());

        cache.remember_written("shop", "ticketing-token", written("11"));
        cache.managed_seen(&watcher::Event::Delete(meta("ticketing-token", "11")));
        assert!(cache.written("shop", "ticketing-token").is_none());
    }

    #[test]
    fn a_written_record_gives_back_what_was_written_the_access_token_as_its_fingerprint() {
        let mut odd = written("");
        odd.by = "".into();
        odd.tokens.issued_for = "ünïcode/ and more".into();
        odd.tokens.pair.refresh_token = Sensitive::new("r".repeat(5000));
        for case in [written("48213"), odd] {
            let record = Record::new(&case);
            let back = record.written().unwrap();
            assert_eq!(back.by, case.by);
            assert_eq!(back.resource_version, case.resource_version);
            assert_eq!(
                record.resource_version().as_deref(),
                Some(&*case.resource_version)
            );
            assert_eq!(back.tokens.issued_for, case.tokens.issued_for);
            assert_eq!(back.tokens.pair, case.tokens.pair.withheld());
            assert_eq!(back.body, case.body);
        }
    }

    #[test]
    fn a_new_write_of_a_kept_secret_takes_the_place_of_the_last_one() {
        let cache = cache_seeing(vec![]);
        let addresses = |cache: &SecretCache| {
            let map = cache.written.lock().unwrap();
            let kept = &map[&key("shop", "ticketing-token")];
            let record: *const Record = &**kept;
            (record, kept.text.as_ptr())
        };
        cache.remember_written("shop", "ticketing-token", written("11"));
        let first = addresses(&cache);
        let mut next = written("12");
        let renewed = "refresh-2026-11-26T10:00:00Z";
        next.tokens.pair.refresh_token = Sensitive::new(renewed);
        next.body = 2;
        cache.remember_written("shop", "ticketing-token", next.clone());

        let kept = cache.written("shop", "ticketing-token").unwrap();
        assert_eq!(&*kept.resource_version, "12");
        assert_eq!(kept.tokens.pair.refresh_token.expose(), renewed);
        assert_eq!(
            (kept.body, kept.tokens.pair),
            (2, next.tokens.pair.withheld())
        );
        assert_eq!(addresses(&cache), first, "the same record and buffer");

        // A longer version does not fit: the record gets a buffer of its own.
        cache.remember_written("shop", "ticketing-token", written("1000"));
        let kept = cache.written("shop", "ticketing-token").unwrap();
        assert_eq!(&*kept.resource_version, "1000");
        assert_eq!(addresses(&cache).0, first.0);
    }

    #[test]
    fn the_late_echo_of_an_earlier_write_leaves_the_latest_one_in_place() {
        let cache = cache_seeing(vec![]);
        cache.remember_written("shop", "ticketing-token", written("12"));
        cache.managed_seen(&watcher::Event::Apply(meta("ticketing-token", "11")));
        assert!(cache.written("shop", "ticketing-token").is_some());
        cache.managed_seen(&watcher::Event::Apply(meta("ticketing-token", "13")));
        assert!(cache.written("shop", "ticketing-token").is_none());
    }

    #[test]
    fn versions_that_are_not_numbers_count_as_moved_unless_equal() {
        assert!(!moved_on(Some("abc"), "abc"));
        assert!(moved_on(Some("abb"), "abc"));
        assert!(moved_on(Some("9"), "x9"));
        assert!(moved_on(None, "9"));
        assert!(!moved_on(Some("9"), "10"));
    }

    #[test]
    fn a_credential_waits_for_a_secret_until_it_no_longer_conflicts() {
        let cache = SecretCache::default();
        cache.set_waiting("shop", "shared-token", "second", true);
        cache.set_waiting("shop", "shared-token", "third", true);
        cache.set_waiting("shop", "shared-token", "second", true);
        assert_eq!(
            cache.waiting_for("shop", "shared-token"),
            ["third", "second"]
        );
        assert!(cache.waiting_for("billing", "shared-token").is_empty());
        cache.set_waiting("shop", "shared-token", "second", false);
        cache.set_waiting("shop", "shared-token", "third", false);
        assert!(cache.waiting_for("shop", "shared-token").is_empty());
        assert!(cache.waiting.lock().unwrap().is_empty());
    }

    #[test]
    fn a_managed_secret_is_known_absent_only_once_listed_and_until_seen() {
        let cache = SecretCache::default();
        assert!(
            !cache.known_absent("shop", "new-token"),
            "nothing listed yet"
        );
        cache.managed_seen(&watcher::Event::Init);
        cache.managed_seen(&watcher::Event::InitApply(meta("old-token", "3")));
        assert!(!cache.known_absent("shop", "new-token"), "still listing");
        cache.managed_seen(&watcher::Event::InitDone);
        assert!(cache.known_absent("shop", "new-token"));
        assert!(!cache.known_absent("shop", "old-token"));

        cache.managed_seen(&watcher::Event::Apply(meta("new-token", "4")));
        assert!(!cache.known_absent("shop", "new-token"));
        cache.managed_seen(&watcher::Event::Delete(meta("old-token", "5")));
        assert!(cache.known_absent("shop", "old-token"));

        // A new list replaces what is known, and nothing is known while it runs.
        cache.managed_seen(&watcher::Event::Init);
        cache.managed_seen(&watcher::Event::InitApply(meta("old-token", "6")));
        assert!(!cache.known_absent("shop", "other-token"));
        cache.managed_seen(&watcher::Event::InitDone);
        assert!(!cache.known_absent("shop", "old-token"));
        assert!(cache.known_absent("shop", "new-token"));
    }

    #[test]
    fn a_new_list_forgets_every_write_since_it_may_have_missed_a_deletion() {
        let cache = cache_seeing(vec![]);
        cache.remember_written("shop", "ticketing-token", written("9"));
        cache.remember_written("shop", "other-token", written("4"));
        see(&cache, vec![meta("other-token", "4")]);
        assert!(cache.written("shop", "ticketing-token").is_none());
        assert!(cache.written("shop", "other-token").is_none());
    }

    #[test]
    fn a_write_is_kept_per_secret() {
        let cache = cache_seeing(vec![]);
        cache.remember_written("shop", "ticketing-token", written("9"));
        cache.managed_seen(&watcher::Event::Apply(meta("other-token", "3")));
        assert!(cache.written("shop", "ticketing-token").is_some());
        assert!(cache.written("billing", "ticketing-token").is_none());
    }
}
