//! BitTorrent v2 merkle trees (BEP 52): SHA-256 over 16 KiB blocks, leaves
//! padded with zero hashes to a power of two.
//!
//! Each file has its own tree. Its `pieces root` is the root over
//! `next_power_of_two(blocks)` leaves; for a file larger than one piece the
//! same root is reached from the piece layer (one node per piece, the last
//! piece's missing leaves zero) padded with the root of an all-zero piece
//! subtree. Pure: callers hash the data and hand over leaves or layers.

use sha2::{Digest, Sha256};

/// The v2 block size: every leaf covers 16 KiB.
pub const BLOCK: u64 = 16 * 1024;

pub type Hash = [u8; 32];

/// SHA-256 of two concatenated child hashes.
pub fn parent(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of a subtree of `2^level` zero leaves (level 0 is a zero leaf).
pub fn zero_subtree(level: u32) -> Hash {
    let mut hash = [0u8; 32];
    for _ in 0..level {
        hash = parent(&hash, &hash);
    }
    hash
}

/// The root over `nodes` padded to `width` (a power of two, at least
/// `nodes.len()`) with `pad`, the root of an empty subtree at this level.
pub fn root(nodes: &[Hash], width: usize, pad: Hash) -> Hash {
    debug_assert!(width.is_power_of_two() && width >= nodes.len());
    if nodes.is_empty() {
        // Only reachable for empty input, which has no root in BEP 52.
        return pad;
    }
    let mut layer: Vec<Hash> = nodes.to_vec();
    let mut pad = pad;
    let mut width = width;
    while width > 1 {
        let next: Vec<Hash> = layer
            .chunks(2)
            .map(|pair| parent(&pair[0], pair.get(1).unwrap_or(&pad)))
            .collect();
        pad = parent(&pad, &pad);
        layer = next;
        width /= 2;
    }
    layer[0]
}

/// Blocks per piece for a v2 piece length (a power of two ≥ 16 KiB).
pub fn blocks_per_piece(piece_length: u64) -> u64 {
    (piece_length / BLOCK).max(1)
}

/// The width of the subtree hashed for one piece of a file: a whole piece,
/// unless the file fits in one piece, where the tree is only as wide as the
/// file's own blocks (rounded up to a power of two).
pub fn piece_subtree_width(file_length: u64, piece_length: u64) -> u64 {
    if file_length > piece_length {
        blocks_per_piece(piece_length)
    } else {
        file_length.div_ceil(BLOCK).max(1).next_power_of_two()
    }
}

/// A file's `pieces root` from its per-piece subtree roots (see
/// [`piece_subtree_width`]): for a one-piece file that subtree root is
/// already the file root.
pub fn file_root(piece_roots: &[Hash], piece_length: u64) -> Hash {
    if piece_roots.len() == 1 {
        return piece_roots[0];
    }
    let pad = zero_subtree(blocks_per_piece(piece_length).trailing_zeros());
    root(piece_roots, piece_roots.len().next_power_of_two(), pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: hash every 16 KiB block and build the tree over
    /// next_power_of_two(blocks) leaves, straight from BEP 52's wording.
    fn reference_root(data: &[u8]) -> Hash {
        let leaves: Vec<Hash> = data
            .chunks(BLOCK as usize)
            .map(|b| Sha256::digest(b).into())
            .collect();
        let width = leaves.len().next_power_of_two();
        let mut layer = leaves;
        layer.resize(width, [0; 32]);
        while layer.len() > 1 {
            layer = layer.chunks(2).map(|p| parent(&p[0], &p[1])).collect();
        }
        layer[0]
    }

    /// Our path: per-piece subtree roots, then the file root.
    fn piecewise_root(data: &[u8], piece_length: u64) -> (Hash, Vec<Hash>) {
        let width = piece_subtree_width(data.len() as u64, piece_length) as usize;
        let piece_roots: Vec<Hash> = data
            .chunks(piece_length as usize)
            .map(|piece| {
                let leaves: Vec<Hash> = piece
                    .chunks(BLOCK as usize)
                    .map(|b| Sha256::digest(b).into())
                    .collect();
                root(&leaves, width, [0; 32])
            })
            .collect();
        (file_root(&piece_roots, piece_length), piece_roots)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn file_roots_match_the_bep_52_definition_at_every_size() {
        let piece = 64 * 1024;
        let block = BLOCK as usize;
        for len in [
            1,
            block - 1,
            block,
            block + 1,
            piece as usize,
            piece as usize + 1,
            3 * piece as usize + 5 * block + 7,
            9 * piece as usize,
        ] {
            let bytes = data(len);
            let (ours, _) = piecewise_root(&bytes, piece);
            assert_eq!(ours, reference_root(&bytes), "length {len}");
        }
    }

    #[test]
    fn one_block_file_root_is_the_block_hash() {
        let bytes = data(1);
        let (root, _) = piecewise_root(&bytes, BLOCK);
        assert_eq!(root, <Hash>::from(Sha256::digest(&bytes)));
    }

    #[test]
    fn piece_layer_of_a_short_last_piece_pads_with_zero_leaves() {
        let piece = 32 * 1024;
        let bytes = data(piece as usize + 10);
        let (_, layer) = piecewise_root(&bytes, piece);
        let last_leaf: Hash = Sha256::digest(&bytes[piece as usize..]).into();
        assert_eq!(layer[1], parent(&last_leaf, &[0; 32]));
    }

    #[test]
    fn zero_subtrees() {
        assert_eq!(zero_subtree(0), [0; 32]);
        assert_eq!(zero_subtree(1), parent(&[0; 32], &[0; 32]));
        assert_eq!(root(&[[0; 32]], 4, [0; 32]), zero_subtree(2));
    }
}
