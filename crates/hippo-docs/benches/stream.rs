//! Benchmarks of the STREAM framing on its own (no I/O): sealing and opening 1 MiB in 64 KiB
//! chunks, against copying the same bytes, so the AEAD's share of a document transfer is a
//! ratio measured in the same run.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hippo_docs::stream::{sealed_len, Opener, Sealer, DEFAULT_CHUNK};

const KEY: [u8; 32] = [9; 32];
const PREFIX: [u8; 7] = [3; 7];
const SIZE: usize = 1024 * 1024;

fn seal(data: &[u8]) -> Vec<u8> {
    let mut s = Sealer::new(&KEY, PREFIX, b"bench".to_vec(), DEFAULT_CHUNK);
    let mut out = Vec::with_capacity(sealed_len(data.len() as u64, DEFAULT_CHUNK) as usize);
    s.push(data, &mut out).expect("seals");
    s.finish(&mut out).expect("seals");
    out
}

fn stream(c: &mut Criterion) {
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let sealed = seal(&data);
    let opener = Opener::new(&KEY, PREFIX, b"bench".to_vec(), DEFAULT_CHUNK);
    let mut g = c.benchmark_group("stream_1MiB_64KiB_chunks");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("copy (baseline)", |b| b.iter(|| black_box(data.clone())));
    g.bench_function("seal", |b| b.iter(|| seal(black_box(&data))));
    g.bench_function("open", |b| {
        b.iter(|| {
            opener
                .open_all(black_box(&sealed), SIZE as u64)
                .expect("opens")
        })
    });
    g.finish();
}

criterion_group!(benches, stream);
criterion_main!(benches);
