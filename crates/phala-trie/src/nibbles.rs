//! Keys as sequences of 4-bit nibbles, high nibble of each byte first.

/// A nibble path. Each element is in `0..16`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nibbles(pub Vec<u8>);

impl Nibbles {
    pub fn from_key(key: &[u8]) -> Self {
        let mut out = Vec::with_capacity(key.len().saturating_mul(2));
        for b in key {
            out.push(b >> 4);
            out.push(b & 0x0f);
        }
        Nibbles(out)
    }

    /// Packs an even-length path back into bytes; `None` for odd lengths.
    pub fn to_key(&self) -> Option<Vec<u8>> {
        if !self.0.len().is_multiple_of(2) {
            return None;
        }
        Some(
            self.0
                .chunks(2)
                .map(|c| match c {
                    [hi, lo] => (hi << 4) | lo,
                    _ => 0,
                })
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

/// Length of the longest common prefix.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
