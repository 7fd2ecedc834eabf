//! Watch streams (W1–W8): newline-delimited JSON events, selector transitions, replay from a
//! resourceVersion, too-old ERROR events, bookmarks and the server-side timeout.

use crate::clock::Clock;
use crate::http::Shared;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Change, ChangeKind, WatchStart};
use crate::table::TableRequest;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often an idle watch with bookmarks enabled gets a BOOKMARK (the real server's
/// bookmark frequency).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// How long before the server-side timeout a watch with bookmarks gets its last BOOKMARK,
/// as the real server's watch cache sends it.
const BOOKMARK_BEFORE_TIMEOUT: Duration = Duration::from_secs(2);
/// Watch length when the client sets no timeoutSeconds (the real server's minimum default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// A watch request, parsed.
pub struct WatchRequest {
    pub rt: ResourceType,
    pub ns: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub from: Option<u64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    pub metadata_only: bool,
    /// Events carry Tables; only the first has column definitions, as from the real server.
    pub table: Option<TableRequest>,
    pub headers_sent: AtomicBool,
    /// The emulator's clock, for the ages in Table events.
    pub clock: Clock,
}

impl WatchRequest {
    fn matches(&self, obj: &Value) -> bool {
        let obj = &*self.rt.view(obj);
        let ns_ok = self.ns.as_deref().is_none_or(|ns| {
            obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
        });
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn event(&self, kind: &str, obj: &Value) -> Bytes {
        let object = match self.table {
            Some(t) => {
                let headers = !self.headers_sent.swap(true, Ordering::Relaxed);
                crate::table::single(&self.rt, t, obj.clone(), headers, self.clock.now())
            }
            None => crate::http::present(&self.rt, obj.clone(), self.metadata_only),
        };
        line(json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        if let Some(t) = self.table {
            let object = crate::table::bookmark(t, meta);
            return line(json!({"type": "BOOKMARK", "object": object}));
        }
        let (kind, api_version) = if self.metadata_only {
            (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            )
        } else {
            (self.rt.kind.clone(), self.rt.api_version())
        };
        line(
            json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}}),
        )
    }

    /// The event, if any, this watch sees for one change (W2).
    fn translate(&self, c: &Change) -> Option<Bytes> {
        let now = self.matches(&c.object);
        let before = c.previous.as_ref().is_some_and(|p| self.matches(p));
        match c.kind {
            ChangeKind::Added if now => Some(self.event("ADDED", &c.object)),
            ChangeKind::Modified if now && before => Some(self.event("MODIFIED", &c.object)),
            ChangeKind::Modified if now => Some(self.event("ADDED", &c.object)),
            ChangeKind::Modified if before => {
                let mut gone = c.previous.clone().unwrap_or_default();
                gone["metadata"]["resourceVersion"] = json!(c.rv.to_string());
                Some(self.event("DELETED", &gone))
            }
            ChangeKind::Deleted if now => Some(self.event("DELETED", &c.object)),
            _ => None,
        }
    }
}

/// Sends every change already queued, then a BOOKMARK at the current resourceVersion.
/// Writers queue changes while holding the store lock, so all changes up to the version
/// read here are in the channel. Returns false once the client has gone.
async fn flush_and_bookmark(
    shared: &Shared,
    req: &WatchRequest,
    changes: &mut mpsc::UnboundedReceiver<Arc<Change>>,
    last_rv: &mut u64,
    tx: &mpsc::Sender<Bytes>,
) -> bool {
    let rv = shared.store().current_rv();
    while let Ok(c) = changes.try_recv() {
        *last_rv = (*last_rv).max(c.rv);
        if let Some(b) = req.translate(&c)
            && tx.send(b).await.is_err()
        {
            return false;
        }
    }
    *last_rv = (*last_rv).max(rv);
    tx.send(req.bookmark(*last_rv, false)).await.is_ok()
}

fn line(v: Value) -> Bytes {
    let mut s = serde_json::to_vec(&v).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

/// Opens the watch and answers with its streaming body.
pub fn serve(shared: Arc<Shared>, req: WatchRequest) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (ns, name) = crate::http::lookup(&req.rt, req.ns.as_deref(), &req.fields);
    let sub = shared.store().subscribe(
        &req.rt.storage_key(),
        ns.as_deref(),
        name.as_deref(),
        req.from,
        &|o| req.matches(o),
    );
    tokio::spawn(async move {
        let mut changes = sub.changes;
        let mut last_rv = sub.rv;
        let send = |b: Bytes| {
            let tx = tx.clone();
            async move { tx.send(b).await.is_ok() }
        };
        match sub.start {
            WatchStart::TooOld { requested, oldest } => {
                let status =
                    ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
                        .body;
                send(line(json!({"type": "ERROR", "object": status}))).await;
                return;
            }
            WatchStart::Snapshot(objects) => {
                for o in &objects {
                    if !send(req.event("ADDED", o)).await {
                        return;
                    }
                }
            }
            WatchStart::Replay(history) => {
                for c in history {
                    last_rv = last_rv.max(c.rv);
                    if let Some(b) = req.translate(&c)
                        && !send(b).await
                    {
                        return;
                    }
                }
            }
        }
        // The real server marks the end of the initial events with a bookmark, and sends no
        // bookmark at the start of an ordinary watch.
        if req.bookmarks && req.send_initial_events && !send(req.bookmark(last_rv, true)).await {
            return;
        }
        let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        // One bookmark shortly before the timeout (none for timeouts too short for it).
        let pre_timeout =
            (timeout > BOOKMARK_BEFORE_TIMEOUT).then(|| deadline - BOOKMARK_BEFORE_TIMEOUT);
        let mut pre_timeout_sent = false;
        loop {
            tokio::select! {
                change = changes.recv() => {
                    let Some(c) = change else { return };
                    last_rv = last_rv.max(c.rv);
                    if let Some(b) = req.translate(&c) && !send(b).await {
                        return;
                    }
                }
                _ = ticker.tick(), if req.bookmarks => {
                    if !flush_and_bookmark(&shared, &req, &mut changes, &mut last_rv, &tx).await {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(pre_timeout.unwrap_or(deadline)),
                    if req.bookmarks && pre_timeout.is_some() && !pre_timeout_sent =>
                {
                    pre_timeout_sent = true;
                    if !flush_and_bookmark(&shared, &req, &mut changes, &mut last_rv, &tx).await {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("valid response")
}
