//! Queue tree and simple queue `max-limit` by name, with cached `.id`s, and their counters.

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    client::RouterOsClient,
    config::QueueRef,
    error::RouterOsError,
    wire::{Counters, MaxLimit, Record, field},
};

/// A queue as the router reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The `.id` (`*N`), valid until the router renumbers.
    pub id: String,
    pub name: String,
    pub max_limit: MaxLimit,
    /// `None` when the reply had no statistics (e.g. a `.proplist` without them).
    pub counters: Option<Counters>,
}

impl QueueEntry {
    fn parse(client: &RouterOsClient, path: &str, record: &Record) -> Result<Self, RouterOsError> {
        let decode = |reason: String| RouterOsError::Decode {
            host: client.host.clone(),
            path: path.to_string(),
            reason,
        };
        let id = field(record, ".id").ok_or_else(|| decode("no `.id`".into()))?;
        let name = field(record, "name").ok_or_else(|| decode("no `name`".into()))?;
        let limit_text =
            field(record, "max-limit").ok_or_else(|| decode("no `max-limit`".into()))?;
        let max_limit = MaxLimit::parse(limit_text)
            .ok_or_else(|| decode(format!("`max-limit` is {limit_text:?}")))?;
        Ok(Self {
            id: id.to_string(),
            name: name.to_string(),
            max_limit,
            counters: Counters::parse(record),
        })
    }
}

impl RouterOsClient {
    /// Looks the queue up by name (`GET /rest/<menu>?name=`), caching its `.id`.
    ///
    /// # Errors
    /// [`RouterOsError::NotFound`] if no queue has that name; transport and HTTP errors otherwise.
    pub async fn resolve_queue(&self, queue: &QueueRef) -> Result<QueueEntry, RouterOsError> {
        let menu = queue.menu();
        let reply = self
            .call(Method::GET, menu, &[("name", queue.name())], None)
            .await?;
        let records = as_records(self, menu, reply)?;
        let record = records
            .iter()
            .find(|r| field(r, "name") == Some(queue.name()))
            .ok_or_else(|| RouterOsError::NotFound {
                host: self.host.clone(),
                what: queue.to_string(),
            })?;
        let entry = QueueEntry::parse(self, menu, record)?;
        self.cache_ids(menu, queue.name(), vec![entry.id.clone()]);
        Ok(entry)
    }

    /// Reads the queue (limit and counters): `GET /rest/<menu>/*N` with the cached id, by name otherwise.
    ///
    /// # Errors
    /// As [`RouterOsClient::resolve_queue`].
    pub async fn queue(&self, queue: &QueueRef) -> Result<QueueEntry, RouterOsError> {
        let menu = queue.menu();
        let Some(id) = self.cached_queue_id(queue) else {
            return self.resolve_queue(queue).await;
        };
        let path = format!("{menu}/{id}");
        match self.call(Method::GET, &path, &[], None).await {
            Ok(Value::Object(record)) => {
                let entry = QueueEntry::parse(self, &path, &record)?;
                if entry.name == queue.name() {
                    return Ok(entry);
                }
                // The id now names another queue: the router renumbered.
                self.resolve_queue(queue).await
            }
            Ok(_) => Err(RouterOsError::Decode {
                host: self.host.clone(),
                path,
                reason: "expected one object".into(),
            }),
            Err(RouterOsError::Http { status: 404, .. }) => self.resolve_queue(queue).await,
            Err(e) => Err(e),
        }
    }

    /// Sets `max-limit` (`PATCH /rest/<menu>/*N {"max-limit":"<bps>"}`): one request when the id is
    /// cached. A 404 re-resolves the id by name and retries once. The reply (the updated object) is
    /// checked: same name, same limit.
    ///
    /// # Errors
    /// [`RouterOsError::Verify`] when the router reports another limit or another queue; transport, HTTP
    /// and lookup errors otherwise.
    pub async fn set_max_limit(
        &self,
        queue: &QueueRef,
        limit: MaxLimit,
    ) -> Result<QueueEntry, RouterOsError> {
        let body = json!({ "max-limit": limit.to_wire() });
        let mut resolved_now = false;
        let mut id = match self.cached_queue_id(queue) {
            Some(id) => id,
            None => {
                resolved_now = true;
                self.resolve_queue(queue).await?.id
            }
        };
        loop {
            let path = format!("{}/{id}", queue.menu());
            match self.call(Method::PATCH, &path, &[], Some(&body)).await {
                Ok(Value::Object(record)) => {
                    let entry = QueueEntry::parse(self, &path, &record)?;
                    if entry.name != queue.name() {
                        // A stale id hit another queue (renumbered by a reboot or reload).
                        tracing::error!(host = %self.host, queue = %queue, id, other = %entry.name,
                            "stale .id: max-limit was written to another queue; re-resolving");
                        self.forget(queue.menu(), queue.name());
                        if resolved_now {
                            return Err(self.verify_error(
                                queue,
                                "name",
                                queue.name(),
                                &entry.name,
                            ));
                        }
                    } else if entry.max_limit != limit {
                        return Err(self.verify_error(
                            queue,
                            "max-limit",
                            &limit.to_wire(),
                            &entry.max_limit.to_wire(),
                        ));
                    } else {
                        return Ok(entry);
                    }
                }
                Ok(_) => {
                    return Err(RouterOsError::Decode {
                        host: self.host.clone(),
                        path,
                        reason: "PATCH reply is not the updated object".into(),
                    });
                }
                Err(RouterOsError::Http { status: 404, .. }) if !resolved_now => {
                    self.forget(queue.menu(), queue.name());
                }
                Err(e) => return Err(e),
            }
            resolved_now = true;
            id = self.resolve_queue(queue).await?.id;
        }
    }

    fn cached_queue_id(&self, queue: &QueueRef) -> Option<String> {
        self.cached_ids(queue.menu(), queue.name())
            .and_then(|ids| ids.into_iter().next())
    }

    fn verify_error(&self, queue: &QueueRef, what: &str, wrote: &str, got: &str) -> RouterOsError {
        RouterOsError::Verify {
            host: self.host.clone(),
            what: format!("{queue} {what}"),
            wrote: wrote.to_string(),
            got: got.to_string(),
        }
    }
}

/// A GET list reply as records.
pub(super) fn as_records(
    client: &RouterOsClient,
    path: &str,
    reply: Value,
) -> Result<Vec<Record>, RouterOsError> {
    let Value::Array(items) = reply else {
        return Err(RouterOsError::Decode {
            host: client.host.clone(),
            path: path.to_string(),
            reason: "expected a list".into(),
        });
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(record) => Ok(record),
            _ => Err(RouterOsError::Decode {
                host: client.host.clone(),
                path: path.to_string(),
                reason: "list item is not an object".into(),
            }),
        })
        .collect()
}
