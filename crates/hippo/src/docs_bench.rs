//! `hippo bench --documents`: throughput of sealed document uploads and downloads (STREAM
//! chunks, AES-256-GCM, data key wrapped by the local provider) against copying the same bytes
//! unencrypted through the same sink in the same run, as ratios; and the memory one concurrent
//! upload holds (peak resident memory over --clients simultaneous uploads, per upload).

use crate::bench::BenchArgs;
use anyhow::{Context, Result};
use hippo_docs::{BlobSink, DirSink, Documents, LocalProvider, Settings};
use std::sync::Arc;
use std::time::Instant;

const PIECE: usize = 64 * 1024;

/// Peak and current resident memory of this process (KiB), from /proc.
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn sink_for(target: Option<&str>, scratch: &std::path::Path) -> Result<Arc<dyn BlobSink>> {
    Ok(match target {
        Some(url) if url.starts_with("s3://") => {
            use hippo_store::export::{S3Options, S3Sink, S3Url, ServerSideEncryption};
            let s3 = S3Sink::new(
                S3Url::parse(url)?,
                S3Options {
                    sse: ServerSideEncryption::AwsKms,
                    ..Default::default()
                },
            )?;
            Arc::new(hippo_docs::s3::S3BlobSink::new(s3))
        }
        Some(dir) => Arc::new(DirSink::open(std::path::Path::new(dir))?),
        None => Arc::new(DirSink::open(scratch)?),
    })
}

/// A PDF-looking document: a header, then pseudo-random bytes (incompressible, as scans are).
fn document(size: usize) -> Vec<u8> {
    let mut d = b"%PDF-1.7\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while d.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d.extend_from_slice(&x.to_le_bytes());
    }
    d.truncate(size);
    d
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    let size = args.document_mib * 1024 * 1024;
    let scratch = std::env::temp_dir().join(format!("hippo-docs-bench-{}", std::process::id()));
    let result = bench(args, size, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn bench(args: &BenchArgs, size: usize, scratch: &std::path::Path) -> Result<()> {
    let sink = sink_for(args.documents_to.as_deref(), scratch).context("the documents sink")?;
    let root = hippo_docs::provider::random_key()?;
    let provider = Arc::new(LocalProvider::new(root, sink.clone()));
    let settings = Settings {
        max_bytes: u64::MAX,
        allowed_types: vec!["application/pdf".into()],
        ..Settings::default()
    };
    let chunk = settings.chunk_size;
    let docs = Arc::new(Documents::new(sink.clone(), provider, settings));
    println!(
        "hippo bench --documents: {} MiB documents, {} KiB chunks, sink {}",
        args.document_mib,
        chunk / 1024,
        sink.describe()
    );

    // Memory first, before the benchmark document is allocated: --clients uploads at once,
    // each fed from one shared 64 KiB piece (so the input is not what is measured).
    let piece: Arc<Vec<u8>> = Arc::new(document(PIECE));
    let base = rss_kib("VmRSS:");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (docs, piece) = (docs.clone(), piece.clone());
        tasks.push(tokio::spawn(async move {
            let mut up = docs
                .start_upload(
                    "bench",
                    &format!("mem-{c}"),
                    "application/pdf",
                    None,
                    "bench",
                    0,
                )
                .await?;
            for _ in 0..size / PIECE {
                up.push(&piece).await?;
            }
            up.finish().await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let peak = rss_kib("VmHWM:");
    let per_upload = peak.saturating_sub(base) / args.clients.max(1) as u64;
    println!(
        "memory: {} concurrent uploads of {} MiB: peak resident +{} KiB, {} KiB per upload ({:.1} s)",
        args.clients,
        args.document_mib,
        peak.saturating_sub(base),
        per_upload,
        started.elapsed().as_secs_f64()
    );

    let data = document(size);
    // Reads are several times faster than writes: each round reads the document enough times
    // (at least 256 MiB in all) that a download round lasts long enough to time.
    let passes = (256 * 1024 * 1024 / size.max(1)).max(1);
    let mb = size as f64 / 1_000_000.0;
    let mut rows = Vec::new();
    for round in 0..3 {
        // Plain: the same bytes through the same sink writer, unencrypted.
        let t = Instant::now();
        let key = format!("bench/plain-{round}");
        let mut w = sink.begin(&key).await?;
        for p in data.chunks(PIECE) {
            w.write(p).await?;
        }
        w.commit().await?;
        let plain_up = mb / t.elapsed().as_secs_f64();
        // Read back in the spans the download route reads (READ_CHUNKS chunks at a time).
        let span = chunk as u64 * hippo_docs::READ_CHUNKS;
        let t = Instant::now();
        for _ in 0..passes {
            let mut at = 0u64;
            let mut read = 0usize;
            while (at as usize) < size {
                let part = sink.read_range(&key, at, span).await?;
                read += part.len();
                at += span;
            }
            anyhow::ensure!(read == size, "plain read back {read} of {size} bytes");
        }
        let plain_down = passes as f64 * mb / t.elapsed().as_secs_f64();

        // Sealed: the documents service, as the upload and download routes drive it.
        let t = Instant::now();
        let mut up = docs
            .start_upload(
                "bench",
                &format!("rec-{round}"),
                "application/pdf",
                Some(size as u64),
                "bench",
                0,
            )
            .await?;
        for p in data.chunks(PIECE) {
            up.push(p).await?;
        }
        let staged = up.finish().await?;
        docs.publish("bench", &staged).await?;
        let sealed_up = mb / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..passes {
            let open = Arc::new(docs.open("bench", &staged.meta).await?);
            let mut read = 0usize;
            let mut reader = hippo_docs::ChunkReader::new(open.clone(), 0, open.chunks() - 1);
            while let Some(batch) = reader.next_batch().await {
                read += batch?.len();
            }
            anyhow::ensure!(read == size, "sealed read back {read} of {size} bytes");
        }
        let sealed_down = passes as f64 * mb / t.elapsed().as_secs_f64();
        rows.push((plain_up, sealed_up, plain_down, sealed_down));
    }
    // The median round of each figure.
    let median = |f: fn(&(f64, f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (pu, su) = (median(|r| r.0), median(|r| r.1));
    let (pd, sd) = (median(|r| r.2), median(|r| r.3));
    println!(
        "upload:   plain {pu:.0} MB/s, sealed {su:.0} MB/s, ratio {:.2}",
        su / pu
    );
    println!(
        "download: plain {pd:.0} MB/s, sealed {sd:.0} MB/s, ratio {:.2}",
        sd / pd
    );
    Ok(())
}
