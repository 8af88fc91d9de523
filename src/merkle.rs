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

/// A file's merkle tree from its piece layer up to its root, built once from
/// the torrent's `piece layers` to answer BEP 52 hash requests. Layers
/// below the piece layer (block hashes) are not kept: they would need the
/// file's data hashed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTree {
    /// Layers above the leaves of the lowest layer kept (the piece layer).
    piece_layer: u32,
    /// `layers[0]` is the piece layer padded to a power of two with the
    /// roots of all-zero pieces; each next layer halves it; the last is the
    /// root alone.
    layers: Vec<Vec<Hash>>,
}

/// Why a hash request cannot be answered from a [`FileTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("base layer {base} is not between the piece layer and the root")]
    Layer { base: u32 },
    #[error("length {0} is not a power of two of at most {MAX_HASH_REQUEST}")]
    Length(u32),
    #[error("hashes {index}..+{length} are not an aligned span of the layer")]
    Range { index: u32, length: u32 },
    #[error("{0} proof layers reach past the root")]
    ProofLayers(u32),
}

/// The most base-layer hashes one request may ask for (BEP 52: SHOULD NOT
/// be more than 512).
pub const MAX_HASH_REQUEST: u32 = 512;

impl FileTree {
    /// The tree over a file's piece layer (one subtree root per piece, for a
    /// file longer than one piece), or `None` when the layer is empty.
    pub fn from_piece_layer(pieces: &[Hash], piece_length: u64) -> Option<Self> {
        if pieces.is_empty() {
            return None;
        }
        let piece_layer = blocks_per_piece(piece_length).trailing_zeros();
        let mut pad = zero_subtree(piece_layer);
        let mut layer = pieces.to_vec();
        layer.resize(pieces.len().next_power_of_two(), pad);
        let mut layers = vec![layer];
        while layers.last().is_some_and(|l| l.len() > 1) {
            let below = layers.last().map(Vec::as_slice).unwrap_or_default();
            let next = below.chunks(2).map(|p| parent(&p[0], &p[1])).collect();
            pad = parent(&pad, &pad);
            layers.push(next);
        }
        Some(Self {
            piece_layer,
            layers,
        })
    }

    /// The file's `pieces root`.
    pub fn root(&self) -> Hash {
        self.layers
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or_default()
    }

    /// Layers above the leaves of the root: the tree's height.
    pub fn height(&self) -> u32 {
        self.piece_layer + self.layers.len() as u32 - 1
    }

    /// The layer `base` layers above the leaves, if kept.
    fn layer(&self, base: u32) -> Option<&[Hash]> {
        let at = base.checked_sub(self.piece_layer)?;
        self.layers.get(at as usize).map(Vec::as_slice)
    }

    /// BEP 52 `hashes` for a request: `length` hashes of layer `base` from
    /// `index`, then one uncle per proof layer, lowest first, leaving out
    /// the first `log2(length) - 1` proof layers (those the base hashes
    /// already determine). Refuses layers below the piece layer, the root
    /// layer, unaligned or oversized spans, and proofs past the root.
    pub fn hashes(
        &self,
        base: u32,
        index: u32,
        length: u32,
        proof_layers: u32,
    ) -> Result<Vec<Hash>, ProofError> {
        if base >= self.height() {
            return Err(ProofError::Layer { base });
        }
        let layer = self.layer(base).ok_or(ProofError::Layer { base })?;
        if !length.is_power_of_two() || length > MAX_HASH_REQUEST {
            return Err(ProofError::Length(length));
        }
        let start = index as usize;
        let end = start + length as usize;
        if index % length != 0 || end > layer.len() {
            return Err(ProofError::Range { index, length });
        }
        if proof_layers >= self.height() - base {
            return Err(ProofError::ProofLayers(proof_layers));
        }
        let mut out = layer[start..end].to_vec();
        let omitted = length.trailing_zeros().saturating_sub(1);
        for step in omitted..proof_layers {
            let above = self
                .layer(base + 1 + step)
                .ok_or(ProofError::ProofLayers(proof_layers))?;
            let node = (index >> (step + 1)) as usize ^ 1;
            out.push(
                *above
                    .get(node)
                    .ok_or(ProofError::ProofLayers(proof_layers))?,
            );
        }
        Ok(out)
    }
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

    /// Every layer of the full tree over a file's bytes, leaves first,
    /// computed straight from the data.
    fn reference_layers(data: &[u8]) -> Vec<Vec<Hash>> {
        let mut layer: Vec<Hash> = data
            .chunks(BLOCK as usize)
            .map(|b| Sha256::digest(b).into())
            .collect();
        layer.resize(layer.len().next_power_of_two(), [0; 32]);
        let mut layers = vec![layer];
        while layers.last().unwrap().len() > 1 {
            let next = layers
                .last()
                .unwrap()
                .chunks(2)
                .map(|p| parent(&p[0], &p[1]))
                .collect();
            layers.push(next);
        }
        layers
    }

    /// Climbs from the returned base hashes with the uncles as far as they
    /// reach, as a downloader checks a `hashes` reply: (top, layers climbed).
    fn climb(hashes: &[Hash], index: u32, length: u32) -> (Hash, u32) {
        let (base, uncles) = hashes.split_at(length as usize);
        let mut layer = base.to_vec();
        let mut node = index;
        let mut climbed = 0;
        while layer.len() > 1 {
            layer = layer.chunks(2).map(|p| parent(&p[0], &p[1])).collect();
            node >>= 1;
            climbed += 1;
        }
        let mut hash = layer[0];
        for uncle in uncles {
            hash = if node % 2 == 0 {
                parent(&hash, uncle)
            } else {
                parent(uncle, &hash)
            };
            node >>= 1;
            climbed += 1;
        }
        (hash, climbed)
    }

    #[test]
    fn file_trees_answer_hash_requests_with_proofs_to_the_root() {
        let piece = 32 * 1024;
        let bytes = data(5 * piece as usize + 100);
        let reference = reference_layers(&bytes);
        let (root, piece_roots) = piecewise_root(&bytes, piece);
        let tree = FileTree::from_piece_layer(&piece_roots, piece).unwrap();
        assert_eq!(tree.root(), root);
        assert_eq!(tree.height(), reference.len() as u32 - 1);
        let base = 1; // 2 blocks per piece
        for (index, length) in [(0, 8), (0, 4), (4, 4), (0, 2), (6, 2)] {
            for proof_layers in 0..tree.height() - base {
                let got = tree.hashes(base, index, length, proof_layers).unwrap();
                let span = index as usize..(index + length) as usize;
                assert_eq!(got[..length as usize], reference[base as usize][span]);
                let (top, climbed) = climb(&got, index, length);
                // Proof layer p proves up to layer base + p + 1; the first
                // log2(length) - 1 of them come from the base hashes.
                assert_eq!(climbed, length.trailing_zeros().max(proof_layers + 1));
                let level = (base + climbed) as usize;
                assert_eq!(top, reference[level][(index >> climbed) as usize]);
            }
        }
        // One hash: its uncles start a layer up, as libtorrent sends them.
        let one = tree.hashes(base, 5, 1, 2).unwrap();
        assert_eq!(one[0], reference[1][5]);
        assert_eq!(one[1..], [reference[2][3], reference[3][0]]);
        // With every proof layer the climb ends at the pieces root.
        let full = tree.hashes(base, 2, 2, tree.height() - base - 1).unwrap();
        assert_eq!(climb(&full, 2, 2).0, root);
    }

    #[test]
    fn file_trees_refuse_bad_requests() {
        let piece = 16 * 1024;
        let roots: Vec<Hash> = (0..3u8).map(|i| [i; 32]).collect();
        let tree = FileTree::from_piece_layer(&roots, piece).unwrap();
        assert_eq!(tree.height(), 2);
        assert_eq!(tree.hashes(0, 0, 4, 1).unwrap().len(), 4);
        assert_eq!(tree.hashes(0, 0, 4, 1).unwrap()[3], zero_subtree(0));
        assert_eq!(tree.hashes(2, 0, 1, 0), Err(ProofError::Layer { base: 2 }));
        assert_eq!(tree.hashes(0, 0, 3, 0), Err(ProofError::Length(3)));
        assert_eq!(tree.hashes(0, 0, 0, 0), Err(ProofError::Length(0)));
        assert_eq!(tree.hashes(0, 0, 1024, 0), Err(ProofError::Length(1024)));
        assert_eq!(
            tree.hashes(0, 1, 2, 0),
            Err(ProofError::Range {
                index: 1,
                length: 2
            })
        );
        assert_eq!(
            tree.hashes(0, 4, 2, 0),
            Err(ProofError::Range {
                index: 4,
                length: 2
            })
        );
        assert_eq!(
            tree.hashes(0, u32::MAX, 1, 0),
            Err(ProofError::Range {
                index: u32::MAX,
                length: 1
            })
        );
        assert_eq!(tree.hashes(0, 0, 2, 2), Err(ProofError::ProofLayers(2)));
        let big = FileTree::from_piece_layer(&roots, 64 * 1024).unwrap();
        assert_eq!(big.hashes(1, 0, 2, 0), Err(ProofError::Layer { base: 1 }));
        assert_eq!(FileTree::from_piece_layer(&[], piece), None);
    }

    /// libtorrent 2.0's answers to hash requests on a 70-piece v2 file,
    /// recorded by tests/interop/bep52_proofs.rs (`UPDATE_FIXTURES=1`).
    const LIBTORRENT_HASHES: &str = include_str!("../tests/fixtures/bep52/libtorrent-hashes.json");

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hashes_equal_libtorrents_merkle_proofs() {
        let fixture: serde_json::Value = serde_json::from_str(LIBTORRENT_HASHES).unwrap();
        let layer: Vec<Hash> = unhex(fixture["piece_layer"].as_str().unwrap())
            .chunks(32)
            .map(|c| c.try_into().unwrap())
            .collect();
        let piece_length = fixture["piece_length"].as_u64().unwrap();
        let tree = FileTree::from_piece_layer(&layer, piece_length).unwrap();
        assert_eq!(
            tree.root().to_vec(),
            unhex(fixture["pieces_root"].as_str().unwrap())
        );
        let exchanges = fixture["exchanges"].as_array().unwrap();
        assert!(exchanges.len() >= 10);
        for exchange in exchanges {
            let r: Vec<u32> = exchange["request"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            let ours = tree.hashes(r[0], r[1], r[2], r[3]).map(|h| h.concat());
            if exchange["malformed"] == true {
                // BEP 52: a power-of-two length, an index that is a multiple
                // of it. libtorrent answers anyway; we refuse.
                assert!(ours.is_err(), "{r:?}");
                continue;
            }
            let theirs = unhex(exchange["hashes"].as_str().unwrap());
            assert_eq!(ours.unwrap(), theirs, "request {r:?}");
        }
    }
}
