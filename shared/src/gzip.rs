//! Gzip in memory, the one way the pipeline compresses what it writes: archive members
//! (local mode), bad-row objects (S3), large event payloads (DynamoDB) and loadtest bodies.

use std::io::Write;

pub use flate2::Compression;

/// `bytes` as one gzip member (writing to memory cannot fail).
pub fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), level);
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn a_member_decompresses_to_its_bytes() {
        let text = b"{\"event_type\":\"pageview\"}\n".repeat(100);
        let packed = gzip(&text, Compression::fast());
        assert!(packed.len() < text.len() / 4);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
    }
}
