//! What the credential cache keeps of each WetixCredential: about 0.8 KiB in place of 1.6.
//!
//! The controller's cache holds every credential it reconciles, all the time. Held as the
//! typed object, one costs 1,000 bytes inline and a dozen small allocations for its strings.
//! A [`CachedCredential`] keeps in the open only what is read of every credential at once:
//! its name and namespace (the cache's key), its resourceVersion (where the watch resumes),
//! what the per-credential metrics publish, and a fingerprint of each Secret name it reads
//! (to find the credentials a Secret change concerns). The rest, which only its own
//! reconcile reads, is packed: the JSON of it, compressed against a typical credential
//! ([`DICTIONARY`]), so that what every credential has in common (field names, defaults, the
//! shape of a status) costs nothing: about 170 bytes in all.
//!
//! A reconcile unpacks its credential in a few microseconds. Packing is exact: the unpacked
//! credential equals the one read from the API server, trimmed as [`keep_what_reconcile_reads`]
//! says, an unreadable spec or status included.

use std::{
    borrow::Cow,
    hash::{Hash, Hasher},
};

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::{Resource, api::ObjectMeta};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    credential::{WetixCredential, WetixCredentialSpec, WetixCredentialStatus},
    status::READY,
    step,
    wakeups::Key,
};

/// A typical packed credential, to compress against: any bytes would do, these make the
/// common credential short.
const DICTIONARY: &[u8] = br#"{"metadata":{"annotations":{"wetix.my/refresh-requested-at":"2026-12-01T10:00:00Z"},"generation":1,"resourceVersion":"1000000","uid":"00000000-0000-4000-8000-000000000000"},"spec":{"Ok":{"server":{"environment":"Sandbox","tokenPath":"/auth/token","refreshPath":"/auth/refresh"},"clientSecretRef":{"name":"wetix-client","clientIdKey":"client_id","clientSecretKey":"client_secret"},"renewBeforePercentage":33,"deletionPolicy":"Delete","suspend":false}},"status":{"Ok":{"observedGeneration":1,"conditions":[{"lastTransitionTime":"2026-12-01T10:00:00Z","message":"access token valid until 2027-01-30T10:00:00Z, refresh token until 2027-12-01T10:00:00Z","observedGeneration":1,"reason":"TokenValid","status":"True","type":"Ready"}],"secretName":"wetix-client-token","accessTokenExpiresAt":"2027-01-30T10:00:00Z","refreshTokenExpiresAt":"2027-12-01T10:00:00Z","lastRefreshTime":"2026-12-01T10:00:00Z","nextRefreshTime":"2027-01-10T10:00:00Z","failedAttempts":0,"lastFailureTime":null,"lastRefreshRequest":"","tokenFingerprint":"0000000000000000"}}}"#;

/// One credential as the watch reads it: what the cache keeps ([`Entry`]), and the metadata
/// the watch itself needs.
#[derive(Clone)]
pub struct CachedCredential {
    /// Name, namespace and resourceVersion only: the cache's key, and where the watch resumes.
    metadata: ObjectMeta,
    pub entry: Entry,
}

/// One credential as the cache keeps it, by its [`Key`].
#[derive(Clone)]
pub struct Entry {
    /// What the metrics publish; `None` before the first status.
    summary: Option<KeptSummary>,
    /// Fingerprints of the Secrets it reads: client, bootstrap refresh token, managed.
    reads: [u64; 3],
    /// Its resourceVersion as an etcd revision, when it is one: what a reconcile's memory is
    /// settled by (`step::Memory::settle`) without unpacking.
    pub revision: Option<std::num::NonZeroU64>,
    /// [`Packed`] as JSON, compressed, in the first `packed_len` bytes of a buffer with room
    /// for a few more ([`ROOM`]); and its length before.
    packed: Box<[u8]>,
    packed_len: u32,
    unpacked_len: u32,
}

/// Buffers of packed credentials are a multiple of this many bytes: a renewed credential
/// (new times, version and fingerprint) usually packs to within a few bytes of what it was,
/// into a buffer of the same size, and is then packed again in place ([`Entry::overwrite`]).
/// A refresh request (about 27 bytes more) usually needs the next size.
const ROOM: usize = 32;

/// What the per-credential metrics read of a status.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub next_refresh_time: Option<Timestamp>,
    pub ready: bool,
}

/// A [`Summary`] as an entry keeps it: 40 bytes instead of 80 (an optional `Timestamp` takes
/// 24), each time as its seconds and nanoseconds, an absent one as nanoseconds no time has.
#[derive(Clone, Copy)]
struct KeptSummary {
    seconds: [i64; 3],
    nanoseconds: [i32; 3],
    ready: bool,
}

const ABSENT: i32 = i32::MIN;

impl KeptSummary {
    fn new(summary: &Summary) -> Self {
        let times = [
            summary.access_token_expires_at,
            summary.refresh_token_expires_at,
            summary.next_refresh_time,
        ];
        Self {
            seconds: times.map(|t| t.map_or(0, |t| t.as_second())),
            nanoseconds: times.map(|t| t.map_or(ABSENT, |t| t.subsec_nanosecond())),
            ready: summary.ready,
        }
    }

    fn summary(&self) -> Summary {
        let time = |second: i64, nanosecond: i32| {
            (nanosecond != ABSENT)
                .then(|| Timestamp::new(second, nanosecond).ok())
                .flatten()
        };
        let [access, refresh, next] = self.seconds;
        let [access_ns, refresh_ns, next_ns] = self.nanoseconds;
        Summary {
            access_token_expires_at: time(access, access_ns),
            refresh_token_expires_at: time(refresh, refresh_ns),
            next_refresh_time: time(next, next_ns),
            ready: self.ready,
        }
    }
}

/// What is packed: the rest of what a reconcile reads. A part that could not be read keeps
/// only the problem, as the typed credential does.
#[derive(Serialize, Deserialize)]
struct Packed {
    metadata: ObjectMeta,
    spec: Result<WetixCredentialSpec, String>,
    status: Option<Result<WetixCredentialStatus, String>>,
}

impl CachedCredential {
    /// Keeps what a reconcile reads of `credential` (see [`keep_what_reconcile_reads`]).
    pub fn new(mut credential: WetixCredential) -> Self {
        keep_what_reconcile_reads(&mut credential);
        let reads = reads(&credential);
        let summary = credential
            .status
            .as_ref()
            .map(|s| KeptSummary::new(&summary(s)));
        let WetixCredential {
            mut metadata,
            spec,
            status,
            ..
        } = credential;
        let revision = metadata
            .resource_version
            .as_deref()
            .and_then(step::revision);
        let revision = revision.and_then(std::num::NonZeroU64::new);
        let kept = ObjectMeta {
            name: metadata.name.take(),
            namespace: metadata.namespace.take(),
            resource_version: metadata.resource_version.clone(),
            ..ObjectMeta::default()
        };
        let packed = Packed {
            metadata,
            spec: match spec.unreadable.clone() {
                Some(problem) => Err(problem),
                None => Ok(spec),
            },
            status: status.map(|status| match status.unreadable.clone() {
                Some(problem) => Err(problem),
                None => Ok(status),
            }),
        };
        // The types serialize to JSON without fail (no map with non-string keys).
        let json = serde_json::to_vec(&packed).unwrap_or_default();
        let compressed = lz4_flex::block::compress_with_dict(&json, DICTIONARY);
        let mut buffer = Vec::with_capacity(compressed.len().next_multiple_of(ROOM));
        buffer.extend_from_slice(&compressed);
        buffer.resize(buffer.capacity(), 0);
        Self {
            metadata: kept,
            entry: Entry {
                summary,
                reads,
                revision,
                packed: buffer.into_boxed_slice(),
                packed_len: u32::try_from(compressed.len()).unwrap_or(u32::MAX),
                unpacked_len: u32::try_from(json.len()).unwrap_or(u32::MAX),
            },
        }
    }

    /// The cache's key.
    pub fn key(&self) -> Key {
        Key::new(
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        )
    }

    /// The credential as a reconcile reads it (see [`Entry::credential`]).
    pub fn credential(&self) -> Option<WetixCredential> {
        self.entry.credential(&self.key())
    }
}

impl Entry {
    /// What the metrics publish; `None` before the first status.
    pub fn summary(&self) -> Option<Summary> {
        self.summary.as_ref().map(KeptSummary::summary)
    }

    /// The credential `key` as a reconcile reads it. `None` only if the packed bytes were
    /// damaged, which nothing but a bug in this module could do.
    pub fn credential(&self, key: &Key) -> Option<WetixCredential> {
        let len = usize::try_from(self.unpacked_len).ok()?;
        let json = lz4_flex::block::decompress_with_dict(self.packed()?, len, DICTIONARY).ok()?;
        let Packed {
            mut metadata,
            spec,
            status,
        } = serde_json::from_slice(&json).ok()?;
        let (namespace, name) = key.parts();
        metadata.name = Some(name.to_owned());
        metadata.namespace = Some(namespace.to_owned());
        let spec = spec.unwrap_or_else(crate::credential::unreadable_spec);
        let status = status.map(|status| {
            status.unwrap_or_else(|problem| WetixCredentialStatus {
                unreadable: Some(problem),
                ..WetixCredentialStatus::default()
            })
        });
        let mut credential = WetixCredential::new(name, spec);
        credential.metadata = metadata;
        credential.status = status;
        Some(credential)
    }

    /// Whether the credential may read the Secret `name` (as client Secret, bootstrap refresh
    /// token or managed Secret). May say yes wrongly, once in 2^64: unpack to be sure.
    pub fn may_read(&self, name: &str) -> bool {
        self.reads.contains(&fingerprint(name))
    }

    /// How many bytes the packed part takes.
    pub fn packed_len(&self) -> usize {
        self.packed().map_or(0, <[u8]>::len)
    }

    fn packed(&self) -> Option<&[u8]> {
        self.packed.get(..usize::try_from(self.packed_len).ok()?)
    }

    /// Becomes `new`, its packed bytes copied into this entry's buffer if that is the size
    /// `new`'s own is (so that a buffer neither grows nor stays larger than needed). The cache
    /// keeps each entry's buffer where it was first allocated: replaced with a new one at
    /// each change, allocated among the buffers of the watch event that brought it, the
    /// entries of a burst of changes end up one or two to a page of the heap once those
    /// buffers are freed, and the heap stays that large (docs/performance.md).
    pub fn overwrite(&mut self, new: Entry) {
        if self.packed.len() == new.packed.len() {
            self.packed.copy_from_slice(&new.packed);
            *self = Entry {
                packed: std::mem::take(&mut self.packed),
                ..new
            };
        } else {
            *self = new;
        }
    }
}

impl std::fmt::Debug for CachedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCredential")
            .field("namespace", &self.metadata.namespace)
            .field("name", &self.metadata.name)
            .field("summary", &self.entry.summary())
            .field("packed_len", &self.entry.packed_len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("summary", &self.summary())
            .field("packed_len", &self.packed_len())
            .finish_non_exhaustive()
    }
}

/// Read from the API server as the typed credential is, then packed.
impl<'de> Deserialize<'de> for CachedCredential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WetixCredential::deserialize(deserializer).map(Self::new)
    }
}

/// The same resource as [`WetixCredential`], so it is listed and watched at the same path.
impl Resource for CachedCredential {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        WetixCredential::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        WetixCredential::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        WetixCredential::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        WetixCredential::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// What the cache keeps: the spec, the status, and of the metadata only what a reconcile
/// reads: name, namespace, uid, version, generation, and the refresh annotation while its
/// request is pending. Labels, other annotations (`kubectl apply` stores a copy of the whole
/// object in one) and managed fields go: every credential asked for a refresh once would
/// otherwise keep its annotation.
pub fn keep_what_reconcile_reads(credential: &mut WetixCredential) {
    let pending = step::pending_refresh_request(credential)
        .map(|value| [(step::REFRESH_REQUESTED_AT.to_owned(), value.to_owned())].into());
    let read = std::mem::take(&mut credential.metadata);
    credential.metadata = ObjectMeta {
        name: read.name,
        namespace: read.namespace,
        uid: read.uid,
        resource_version: read.resource_version,
        generation: read.generation,
        annotations: pending,
        ..ObjectMeta::default()
    };
}

fn summary(status: &WetixCredentialStatus) -> Summary {
    let time = |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.map(|t| t.0);
    Summary {
        access_token_expires_at: time(status.access_token_expires_at.as_ref()),
        refresh_token_expires_at: time(status.refresh_token_expires_at.as_ref()),
        next_refresh_time: time(status.next_refresh_time.as_ref()),
        ready: status
            .conditions
            .iter()
            .any(|c| c.type_ == READY && c.status == "True"),
    }
}

fn reads(credential: &WetixCredential) -> [u64; 3] {
    let spec = &credential.spec;
    let bootstrap = spec
        .refresh_token_secret_ref
        .as_ref()
        .map(|r| r.name.as_str());
    [
        fingerprint(&spec.client_secret_ref.name),
        bootstrap.map_or(0, fingerprint),
        fingerprint(&credential.secret_name()),
    ]
}

fn fingerprint(name: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests;
