//! What the fuzz targets share: cut points taken from the input, and a
//! model of the exact sum written apart from the code under test.

/// Reads the cut points at the start of a fuzz input: one byte whose low 3
/// bits say how many cuts (0 to 7), then 2 bytes (little-endian) per cut.
/// Returns the cuts and the rest of the input. A seed is `\0` and a payload.
pub fn split_input(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&count, mut rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let mut cuts = Vec::new();
    for _ in 0..(count & 7) {
        let Some((cut, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        cuts.push(usize::from(u16::from_le_bytes(*cut)));
        rest = tail;
    }
    (cuts, rest)
}

/// `bytes` cut at `cuts` (each taken modulo the length + 1), in order;
/// empty pieces included, as a socket may hand over an empty read.
pub fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::with_capacity(at.len() + 1);
    let mut from = 0;
    for to in at.into_iter().chain([bytes.len()]) {
        out.push(&bytes[from..to]);
        from = to;
    }
    out
}

/// The exact sum of `ints` if it fits in an `i128`: each int split into a
/// high and a low 64 bits, summed in two `i128`s (no overflow below 2^62
/// ints).
pub fn exact_sum(ints: &[i128]) -> Option<i128> {
    let (mut high, mut low) = (0i128, 0i128);
    for v in ints {
        high += v >> 64;
        low += v & i128::from(u64::MAX);
    }
    high += low >> 64;
    let low = low & i128::from(u64::MAX);
    let high = i64::try_from(high).ok()?;
    Some((i128::from(high) << 64) | low)
}
