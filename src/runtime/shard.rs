//! `--shard I/N`: which integrations this process serves, by rendezvous hashing of their names.

/// `--shard I/N`: this process serves only the integrations whose names hash to slice I.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This slice, 0-based.
    pub index: u32,
    /// Number of slices.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` with 0 <= I < N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        // The value may come from the flag or from its environment variable: name both.
        let at = format!("--shard (INTEGRATION_EXPORTER_SHARD) {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{at}: write it as I/N, e.g. 0/3"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{at}: I must be a whole number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{at}: N must be a whole number"))?;
        if count == 0 || index >= count {
            return Err(format!("{at}: need 0 <= I < N (slices are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard serves `name`. Rendezvous (highest random weight) hashing over a
    /// stable hash: each name goes to the slice that scores it highest, so going from N to
    /// N+1 shards moves only the names the new slice now wins, about 1/(N+1) of them.
    pub fn owns(&self, name: &str) -> bool {
        rendezvous_owner(fnv1a(name.as_bytes()), self.count) == self.index
    }
}

/// FNV-1a, 64 bit: stable across builds and platforms (unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The slice among `count` (at least 1) that scores `key` highest.
pub fn rendezvous_owner(key: u64, count: u32) -> u32 {
    // The score must mix key and slice thoroughly: with a weak mix, neighbouring slices would
    // win correlated sets of names and the slices would be uneven.
    (0..count).max_by_key(|&slice| splitmix64(key ^ splitmix64(u64::from(slice)))).unwrap_or(0)
}

/// The finaliser of Steele, Lea and Flood's SplitMix64: a bijective 64-bit mix.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
