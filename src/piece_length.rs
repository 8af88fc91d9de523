//! Piece sizes: parsing what the user typed and choosing one automatically.
//!
//! Piece lengths are powers of two from 16 KiB (the block size every client
//! requests) to 64 MiB. Above 16 MiB some old clients refuse the torrent, so
//! callers warn. No I/O.

pub const MIN: u64 = 16 * 1024;
pub const MAX: u64 = 64 * 1024 * 1024;
/// Larger pieces than this break some older clients.
pub const WARN_ABOVE: u64 = 16 * 1024 * 1024;

/// Automatic sizing aims for at most this many pieces...
pub const TARGET_PIECES: u64 = 1500;
/// ...with pieces no smaller than this (smaller ones only add overhead)...
pub const AUTO_MIN: u64 = 32 * 1024;
/// ...and no larger than this (the largest size all clients accept).
pub const AUTO_MAX: u64 = WARN_ABOVE;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PieceLengthError {
    #[error("`{0}` is not a size (examples: 256KiB, 1M, 4194304, or an exponent like 18)")]
    Unparsable(String),
    #[error("{0} bytes is not a power of two")]
    NotPowerOfTwo(u64),
    #[error("{0} bytes is outside 16 KiB to 64 MiB")]
    OutOfRange(u64),
    #[error("a target of 0 pieces cannot be met")]
    ZeroPieces,
}

/// Parses `256KiB`, `1M`, `1 MiB`, `4194304`, or an exponent `14..=26` (as mktorrent's `-l`).
pub fn parse(text: &str) -> Result<u64, PieceLengthError> {
    let unparsable = || PieceLengthError::Unparsable(text.to_owned());
    // A bare number below 64 can only be an exponent: no piece is that small.
    if let Ok(exponent @ 0..64) = text.trim().parse::<u32>() {
        return check(1u64.checked_shl(exponent).ok_or_else(unparsable)?);
    }
    check(crate::format::parse_size(text).ok_or_else(unparsable)?)
}

fn check(bytes: u64) -> Result<u64, PieceLengthError> {
    if !bytes.is_power_of_two() {
        return Err(PieceLengthError::NotPowerOfTwo(bytes));
    }
    if !(MIN..=MAX).contains(&bytes) {
        return Err(PieceLengthError::OutOfRange(bytes));
    }
    Ok(bytes)
}

/// The smallest power of two that keeps the piece count at or below
/// [`TARGET_PIECES`], clamped to [`AUTO_MIN`]..=[`AUTO_MAX`].
pub fn auto(total_length: u64) -> u64 {
    Auto::default().choose(total_length)
}

/// How [`auto`] is tuned: the largest piece it may pick and the piece count
/// it aims for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auto {
    pub max: u64,
    pub target_pieces: u64,
}

impl Default for Auto {
    fn default() -> Self {
        Self {
            max: AUTO_MAX,
            target_pieces: TARGET_PIECES,
        }
    }
}

impl Auto {
    /// The defaults with the given overrides; `max` is an already parsed
    /// piece length.
    pub fn new(max: Option<u64>, target_pieces: Option<u64>) -> Result<Self, PieceLengthError> {
        let defaults = Self::default();
        let target_pieces = target_pieces.unwrap_or(defaults.target_pieces);
        if target_pieces == 0 {
            return Err(PieceLengthError::ZeroPieces);
        }
        Ok(Self {
            max: max.map_or(Ok(defaults.max), check)?,
            target_pieces,
        })
    }

    /// The smallest power of two that keeps the piece count at or below
    /// the target, no smaller than [`AUTO_MIN`] (or `max` when that is
    /// smaller) and no larger than `max`.
    pub fn choose(&self, total_length: u64) -> u64 {
        let max = self.max.clamp(MIN, MAX);
        let wanted = total_length.div_ceil(self.target_pieces.max(1)).max(1);
        wanted
            .checked_next_power_of_two()
            .unwrap_or(max)
            .clamp(AUTO_MIN.min(max), max)
    }
}

/// `262144` → `256 KiB`.
pub fn human(bytes: u64) -> String {
    crate::format::size(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_units_and_exponents() {
        assert_eq!(parse("256KiB"), Ok(262_144));
        assert_eq!(parse("256k"), Ok(262_144));
        assert_eq!(parse("1M"), Ok(1 << 20));
        assert_eq!(parse("1 MiB"), Ok(1 << 20));
        assert_eq!(parse("4194304"), Ok(4_194_304));
        assert_eq!(parse("18"), Ok(1 << 18));
        assert_eq!(parse("64MiB"), Ok(MAX));
    }

    #[test]
    fn rejects_bad_sizes_with_the_reason() {
        assert_eq!(
            parse("300k"),
            Err(PieceLengthError::NotPowerOfTwo(300 * 1024))
        );
        assert_eq!(parse("8k"), Err(PieceLengthError::OutOfRange(8192)));
        assert_eq!(parse("27"), Err(PieceLengthError::OutOfRange(1 << 27)));
        assert_eq!(parse("1T"), Err(PieceLengthError::Unparsable("1T".into())));
        assert_eq!(parse(""), Err(PieceLengthError::Unparsable(String::new())));
        assert!(parse("99999999999999999999").is_err());
        assert!(parse("63").is_err());
    }

    #[test]
    fn auto_keeps_piece_count_bounded() {
        assert_eq!(auto(0), AUTO_MIN);
        assert_eq!(auto(1), AUTO_MIN);
        assert_eq!(auto(2 << 30), 2 << 20);
        assert_eq!(auto(u64::MAX), AUTO_MAX);
        for total in [1u64 << 20, 700 << 20, 4 << 30, 50 << 30] {
            let piece = auto(total);
            assert!(total.div_ceil(piece) <= TARGET_PIECES || piece == AUTO_MAX);
        }
    }

    #[test]
    fn tuned_auto_obeys_max_and_target() {
        let tuned = |max, target| Auto::new(max, target).unwrap();
        // 2 GiB: 2 MiB by default, 4 MiB aiming for 512 pieces, 1 MiB at most.
        assert_eq!(tuned(None, None).choose(2 << 30), 2 << 20);
        assert_eq!(tuned(None, Some(512)).choose(2 << 30), 4 << 20);
        assert_eq!(tuned(Some(1 << 20), None).choose(2 << 30), 1 << 20);
        // A max above 16 MiB lets huge content go past the usual ceiling.
        assert_eq!(tuned(Some(MAX), None).choose(1 << 40), MAX);
        // A max below the usual floor wins over the floor.
        assert_eq!(tuned(Some(MIN), None).choose(1), MIN);
        // The target is never a reason to go below the floor.
        assert_eq!(tuned(None, Some(u64::MAX)).choose(1 << 30), AUTO_MIN);
        assert_eq!(tuned(None, Some(1)).choose(u64::MAX), AUTO_MAX);
        assert_eq!(Auto::new(None, Some(0)), Err(PieceLengthError::ZeroPieces));
        assert_eq!(tuned(None, None), Auto::default());
    }
}
