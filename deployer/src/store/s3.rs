//! S3 as a small object store: read, conditional write (`If-None-Match: *` to create,
//! `If-Match: <etag>` to replace exactly what was read), streaming download and upload, list.
//! It knows nothing of releases or leases; `store` and `lease` give the keys their meaning.

use std::path::Path;

use aws_sdk_s3::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    primitives::ByteStream,
};
use tokio::io::AsyncWriteExt;

use crate::{Error, Result, aws::AwsSettings};

/// An object as read: its bytes and the ETag that a conditional write can name.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// Only if no object exists under the key.
    IfAbsent,
    /// Only if the object still has this ETag.
    IfMatch(String),
}

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Ok {
        etag: String,
    },
    /// The condition did not hold: someone else wrote first.
    PreconditionFailed,
}

#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    bucket: String,
}

impl S3 {
    pub async fn connect(aws: &AwsSettings, bucket: &str) -> Self {
        Self::from_config(&crate::aws::sdk_config(aws).await, bucket)
    }

    /// A client from a loaded SDK configuration; a custom endpoint (moto, MinIO) is addressed
    /// path-style, since such servers do not serve buckets by host name.
    pub fn from_config(config: &aws_config::SdkConfig, bucket: &str) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self { client: Client::from_conf(s3_config), bucket: bucket.to_owned() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => {
                let etag = output.e_tag().unwrap_or_default().to_owned();
                let body =
                    output.body.collect().await.map_err(|err| self.error("GET", key, err.to_string()))?;
                Ok(Some(Object { body: body.into_bytes().to_vec(), etag }))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(self.error("GET", key, describe(&err))),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(self.error("HEAD", key, describe(&err))),
        }
    }

    /// Metadata (`x-amz-meta-*`) of an object, if it exists.
    pub async fn metadata(&self, key: &str) -> Result<Option<std::collections::HashMap<String, String>>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(output.metadata().cloned().unwrap_or_default())),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(self.error("HEAD", key, describe(&err))),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>, condition: Condition) -> Result<Written> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        request = match condition {
            Condition::Always => request,
            Condition::IfAbsent => request.if_none_match("*"),
            Condition::IfMatch(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(Written::Ok { etag: output.e_tag().unwrap_or_default().to_owned() }),
            Err(err) if lost_race(&err) => Ok(Written::PreconditionFailed),
            Err(err) => Err(self.error("PUT", key, describe(&err))),
        }
    }

    /// Uploads a file; with `if_absent`, only when nothing exists under the key yet.
    pub async fn upload_file(
        &self,
        key: &str,
        path: &Path,
        metadata: &[(&str, &str)],
        if_absent: bool,
    ) -> Result<Written> {
        let body = ByteStream::from_path(path).await.map_err(|err| {
            Error::io(format!("cannot read {}", path.display()), std::io::Error::other(err))
        })?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/gzip")
            .body(body);
        for (name, value) in metadata {
            request = request.metadata(*name, *value);
        }
        if if_absent {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(output) => Ok(Written::Ok { etag: output.e_tag().unwrap_or_default().to_owned() }),
            Err(err) if lost_race(&err) => Ok(Written::PreconditionFailed),
            Err(err) => Err(self.error("PUT", key, describe(&err))),
        }
    }

    /// Streams an object into `path` (through a temporary file, renamed when complete).
    /// Returns `false` when there is no such object.
    pub async fn download(&self, key: &str, path: &Path) -> Result<bool> {
        let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(false),
            Err(err) => return Err(self.error("GET", key, describe(&err))),
        };
        let partial = path.with_extension("partial");
        let io_error = |err: std::io::Error| Error::io(format!("cannot write {}", partial.display()), err);
        let mut file = tokio::fs::File::create(&partial).await.map_err(io_error)?;
        let mut body = output.body;
        while let Some(chunk) =
            body.try_next().await.map_err(|err| self.error("GET", key, err.to_string()))?
        {
            file.write_all(&chunk).await.map_err(io_error)?;
        }
        file.sync_all().await.map_err(io_error)?;
        tokio::fs::rename(&partial, path).await.map_err(io_error)?;
        Ok(true)
    }

    /// Keys under `prefix`, all pages.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.error("LIST", prefix, describe(&err)))?;
            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_owned)));
        }
        Ok(keys)
    }

    fn error(&self, operation: &'static str, key: &str, message: String) -> Error {
        Error::S3 { operation, bucket: self.bucket.clone(), key: key.to_owned(), message }
    }
}

/// 412 is a failed precondition; 409 (`ConditionalRequestConflict`, two conditional writes to
/// one key at once) means the same to a caller: another writer got there first.
fn lost_race<E>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(err.raw_response().map(|response| response.status().as_u16()), Some(412 | 409))
}

/// An SDK error as one line: the service's code and message when there is one.
pub(crate) fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => format!("{inner}"),
            }
        }
        other => {
            // Walk the source chain: the SDK's top-level message ("dispatch failure") alone
            // does not say that the endpoint refused the connection.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
