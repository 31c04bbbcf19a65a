//! More S3 object operations on the same signed client, for the documents blob sink: ranged
//! reads, sizes (HEAD), and multipart uploads (a document streams in without being held whole:
//! parts of a fixed size are sent as they fill, and an upload that is not completed is aborted,
//! so it never becomes a visible object).

use super::{ExportError, S3Sink, ServerSideEncryption, PRESIGN_TTL};
use rusty_s3::S3Action;

impl S3Sink {
    fn sse_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        match self.options.sse {
            ServerSideEncryption::AwsKms => {
                headers.push(("x-amz-server-side-encryption", "aws:kms".to_owned()));
                if let Some(id) = &self.options.kms_key_id {
                    headers.push(("x-amz-server-side-encryption-aws-kms-key-id", id.clone()));
                }
            }
            ServerSideEncryption::Aes256 => {
                headers.push(("x-amz-server-side-encryption", "AES256".to_owned()));
            }
            ServerSideEncryption::None => {}
        }
        headers
    }

    /// `len` bytes of `key` from `start` (fewer at the end of the object).
    pub async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, ExportError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let creds = self.credentials().await?;
        let range = format!("bytes={start}-{}", start + len - 1);
        let url = {
            let mut action = self.bucket.get_object(Some(&creds), key);
            action.headers_mut().insert("range", range.as_str());
            action.sign(PRESIGN_TTL)
        };
        let resp = self
            .send("get", key, || {
                self.client.get(url.clone()).header("range", range.as_str())
            })
            .await?;
        let bytes = resp.bytes().await.map_err(|e| ExportError::S3Transport {
            op: "get",
            key: key.to_owned(),
            reason: e.without_url().to_string(),
        })?;
        Ok(bytes.to_vec())
    }

    /// The object's size, or `None` if there is none.
    pub async fn head_size(&self, key: &str) -> Result<Option<u64>, ExportError> {
        let creds = self.credentials().await?;
        let url = self.bucket.head_object(Some(&creds), key).sign(PRESIGN_TTL);
        match self
            .send("head", key, || self.client.head(url.clone()))
            .await
        {
            Ok(resp) => Ok(resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            Err(ExportError::S3Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts a multipart upload of `key` with the sink's server-side encryption; returns its id.
    pub async fn begin_multipart(&self, key: &str) -> Result<String, ExportError> {
        let creds = self.credentials().await?;
        let headers = self.sse_headers();
        let url = {
            let mut action = self.bucket.create_multipart_upload(Some(&creds), key);
            for (name, value) in &headers {
                action.headers_mut().insert(*name, value.as_str());
            }
            action.sign(PRESIGN_TTL)
        };
        let resp = self
            .send("create-multipart", key, || {
                let mut req = self.client.post(url.clone());
                for (name, value) in &headers {
                    req = req.header(*name, value.as_str());
                }
                req
            })
            .await?;
        let text = resp.text().await.map_err(|e| ExportError::S3Transport {
            op: "create-multipart",
            key: key.to_owned(),
            reason: e.without_url().to_string(),
        })?;
        let parsed =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&text).map_err(|e| {
                ExportError::S3Transport {
                    op: "create-multipart",
                    key: key.to_owned(),
                    reason: format!("unreadable response: {e}"),
                }
            })?;
        Ok(parsed.upload_id().to_owned())
    }

    /// Sends part `number` (from 1); returns its ETag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        bytes: Vec<u8>,
    ) -> Result<String, ExportError> {
        let creds = self.credentials().await?;
        let url = self
            .bucket
            .upload_part(Some(&creds), key, number, upload_id)
            .sign(PRESIGN_TTL);
        let len = bytes.len();
        let resp = self
            .send("upload-part", key, || {
                self.client
                    .put(url.clone())
                    .header("content-length", len)
                    .body(bytes.clone())
            })
            .await?;
        resp.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ExportError::S3Transport {
                op: "upload-part",
                key: key.to_owned(),
                reason: "no ETag in the response".into(),
            })
    }

    /// Completes a multipart upload: the object becomes visible, whole, at once.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), ExportError> {
        let creds = self.credentials().await?;
        let action = self.bucket.complete_multipart_upload(
            Some(&creds),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(PRESIGN_TTL);
        let body = self
            .bucket
            .complete_multipart_upload(
                Some(&creds),
                key,
                upload_id,
                etags.iter().map(String::as_str),
            )
            .body();
        let resp = self
            .send("complete-multipart", key, || {
                self.client.post(url.clone()).body(body.clone())
            })
            .await?;
        let text = resp.text().await.unwrap_or_default();
        // S3 may answer 200 with an error document.
        if text.contains("<Error>") {
            return Err(ExportError::S3Transport {
                op: "complete-multipart",
                key: key.to_owned(),
                reason: "the upload could not be completed".into(),
            });
        }
        Ok(())
    }

    /// Abandons a multipart upload; its parts are discarded.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), ExportError> {
        let creds = self.credentials().await?;
        let url = self
            .bucket
            .abort_multipart_upload(Some(&creds), key, upload_id)
            .sign(PRESIGN_TTL);
        self.send("abort-multipart", key, || self.client.delete(url.clone()))
            .await?;
        Ok(())
    }
}
