//! The tokio adapter for [`super::mse`]: runs the handshake over any
//! reader/writer halves (TCP and uTP alike), then wraps them so the peer
//! wire session reads and writes plaintext while RC4 runs underneath.
//!
//! It owns no protocol logic: what to send and when the handshake is over
//! comes from the state machines; here are only reads, writes, deadlines,
//! and the random inputs.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::mse::{self, Cipher, Initiator, Method, MseError, Policy, Responder, Secrets};

/// The plaintext BitTorrent handshake's first bytes (BEP 3).
const BT_HEADER: &[u8; 20] = b"\x13BitTorrent protocol";
/// Reads during the handshake: small, so the state machines' buffers
/// stay within the spec's bounds plus one read.
const READ_CHUNK: usize = 2048;
/// Encrypted bytes a writer holds before its inner writer takes them.
const WRITE_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error(transparent)]
    Mse(#[from] MseError),
    #[error("a plaintext handshake, but encryption is required")]
    PlaintextRefused,
    #[error("an MSE handshake, but encryption is disabled")]
    EncryptionDisabled,
    #[error("handshake timed out")]
    Timeout,
    #[error("closed by the peer during the MSE handshake")]
    Eof,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A connection ready for the peer wire handshake.
pub struct Negotiated<R, W> {
    pub reader: CryptReader<R>,
    pub writer: CryptWriter<W>,
    /// Peer bytes already read (and decrypted): the start of its BitTorrent
    /// handshake, for the caller's read buffer.
    pub payload: Vec<u8>,
    /// The info hash an MSE handshake was keyed with (`None`: plaintext).
    pub skey: Option<[u8; 20]>,
    /// Whether RC4 carries the stream.
    pub encrypted: bool,
}

impl<R, W> Negotiated<R, W> {
    /// No MSE: the halves as they are, `payload` already read.
    pub fn plain(reader: R, writer: W, payload: Vec<u8>) -> Self {
        Self {
            reader: CryptReader::new(reader, None),
            writer: CryptWriter::new(writer, None),
            payload,
            skey: None,
            encrypted: false,
        }
    }

    fn established(reader: R, writer: W, done: mse::Established) -> Self {
        let encrypted = done.method == Method::Rc4;
        let (enc, dec) = done
            .ciphers
            .map_or((None, None), |(e, d)| (Some(e), Some(d)));
        Self {
            reader: CryptReader::new(reader, dec),
            writer: CryptWriter::new(writer, enc),
            payload: done.payload,
            skey: Some(done.skey),
            encrypted,
        }
    }
}

/// A private key and PadA/PadB of random length (0..=512).
pub fn random_secrets() -> Result<Secrets, CryptError> {
    let mut private_key = [0u8; 20];
    let mut len = [0u8; 2];
    getrandom::fill(&mut private_key).map_err(|e| io::Error::other(e.to_string()))?;
    getrandom::fill(&mut len).map_err(|e| io::Error::other(e.to_string()))?;
    let mut pad = vec![0u8; usize::from(u16::from_be_bytes(len)) % (mse::MAX_PAD + 1)];
    getrandom::fill(&mut pad).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Secrets { private_key, pad })
}

async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<usize, CryptError> {
    let n = tokio::time::timeout_at(deadline, reader.read(buf))
        .await
        .map_err(|_| CryptError::Timeout)??;
    if n == 0 {
        return Err(CryptError::Eof);
    }
    Ok(n)
}

/// Incoming: tells a plaintext handshake from MSE by its first 20 bytes,
/// then answers as `policy` allows. `lookup` maps HASH('req2', SKEY) to a
/// served info hash.
pub async fn accept<R, W>(
    mut reader: R,
    mut writer: W,
    policy: Policy,
    lookup: impl Fn(&[u8; 20]) -> Option<[u8; 20]>,
    deadline: Instant,
) -> Result<Negotiated<R, W>, CryptError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut first = Vec::with_capacity(BT_HEADER.len());
    let mut chunk = [0u8; READ_CHUNK];
    while first.len() < BT_HEADER.len() && BT_HEADER.starts_with(&first) {
        let want = BT_HEADER.len() - first.len();
        let n = read_some(&mut reader, &mut chunk[..want], deadline).await?;
        first.extend_from_slice(&chunk[..n]);
    }
    if BT_HEADER.starts_with(&first) {
        if policy == Policy::Require {
            return Err(CryptError::PlaintextRefused);
        }
        return Ok(Negotiated::plain(reader, writer, first));
    }
    if policy == Policy::Disable {
        return Err(CryptError::EncryptionDisabled);
    }
    let mut responder = Responder::new(policy.methods(), random_secrets()?);
    let mut input = first;
    loop {
        let step = responder.feed(&input, &lookup)?;
        if !step.send.is_empty() {
            writer.write_all(&step.send).await?;
        }
        if let Some(done) = step.done {
            return Ok(Negotiated::established(reader, writer, done));
        }
        let n = read_some(&mut reader, &mut chunk, deadline).await?;
        input = chunk[..n].to_vec();
    }
}

/// Outgoing: runs the initiator for torrent `skey` offering what `policy`
/// allows (RC4, and plaintext unless encryption is required).
pub async fn dial<R, W>(
    mut reader: R,
    mut writer: W,
    skey: [u8; 20],
    policy: Policy,
    deadline: Instant,
) -> Result<Negotiated<R, W>, CryptError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let provide = match policy {
        Policy::Disable => return Err(CryptError::EncryptionDisabled),
        other => other.methods(),
    };
    let (mut initiator, hello) = Initiator::new(skey, provide, Vec::new(), random_secrets()?);
    writer.write_all(&hello).await?;
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        let n = read_some(&mut reader, &mut chunk, deadline).await?;
        let step = initiator.feed(&chunk[..n])?;
        if !step.send.is_empty() {
            writer.write_all(&step.send).await?;
        }
        if let Some(done) = step.done {
            return Ok(Negotiated::established(reader, writer, done));
        }
    }
}

/// A reader that decrypts what it reads (or passes it on, without a cipher).
pub struct CryptReader<R> {
    inner: R,
    cipher: Option<Cipher>,
}

impl<R> CryptReader<R> {
    pub fn new(inner: R, cipher: Option<Cipher>) -> Self {
        Self { inner, cipher }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CryptReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Some(cipher) = &mut this.cipher {
            cipher.apply(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

/// A writer that encrypts what it is given (or passes it on, without a
/// cipher). Encrypted bytes are taken at once and held until the inner
/// writer has them all, so no byte is encrypted twice; flush and shutdown
/// write them out first.
pub struct CryptWriter<W> {
    inner: W,
    cipher: Option<Cipher>,
    pending: Vec<u8>,
    written: usize,
}

impl<W> CryptWriter<W> {
    pub fn new(inner: W, cipher: Option<Cipher>) -> Self {
        Self {
            inner,
            cipher,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> CryptWriter<W> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Encrypts as much of `bufs` as one chunk holds; the count taken.
    fn take(&mut self, bufs: &[io::IoSlice<'_>]) -> usize {
        let start = self.pending.len();
        for buf in bufs {
            let room = WRITE_CHUNK.saturating_sub(self.pending.len());
            if room == 0 {
                break;
            }
            self.pending.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(&mut self.pending[start..]);
        }
        self.pending.len() - start
    }

    fn poll_encrypted(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let taken = self.take(bufs);
        // Start writing now; what is left goes out on the next call.
        if let Poll::Ready(Err(err)) = self.poll_pending(cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CryptWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cipher.is_none() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.poll_encrypted(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cipher.is_none() {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        this.poll_encrypted(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.cipher.is_some() || self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEY: [u8; 20] = [4; 20];

    #[tokio::test]
    async fn an_encrypted_dial_and_accept_carry_bytes_both_ways() {
        for (dialer, acceptor, rc4) in [
            (Policy::Prefer, Policy::Prefer, true),
            (Policy::Require, Policy::Require, true),
        ] {
            let (a, b) = tokio::io::duplex(1 << 16);
            let (ar, aw) = tokio::io::split(a);
            let (br, bw) = tokio::io::split(b);
            let deadline = Instant::now() + std::time::Duration::from_secs(5);
            let lookup = |r: &[u8; 20]| (*r == mse::req2_hash(&SKEY)).then_some(SKEY);
            let (out, inc) = tokio::join!(
                dial(ar, aw, SKEY, dialer, deadline),
                accept(br, bw, acceptor, lookup, deadline)
            );
            let (mut out, mut inc) = (out.unwrap(), inc.unwrap());
            assert_eq!(
                (out.encrypted, inc.encrypted, inc.skey),
                (rc4, rc4, Some(SKEY))
            );
            let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let send = async {
                out.writer.write_all(&big).await.unwrap();
                out.writer.flush().await.unwrap();
            };
            let mut got = vec![0u8; big.len()];
            let recv = inc.reader.read_exact(&mut got);
            let ((), read) = tokio::join!(send, recv);
            read.unwrap();
            assert_eq!(got, big);
        }
    }

    #[tokio::test]
    async fn a_plaintext_handshake_passes_unless_encryption_is_required() {
        for (policy, ok) in [(Policy::Prefer, true), (Policy::Require, false)] {
            let (mut a, b) = tokio::io::duplex(1024);
            a.write_all(b"\x13BitTorrent protocol\0\0").await.unwrap();
            let (br, bw) = tokio::io::split(b);
            let deadline = Instant::now() + std::time::Duration::from_secs(5);
            let got = accept(br, bw, policy, |_| None, deadline).await;
            match got {
                Ok(n) => {
                    assert!(ok);
                    assert_eq!(n.payload, BT_HEADER);
                    assert!(!n.encrypted && n.skey.is_none());
                }
                Err(err) => assert!(!ok && matches!(err, CryptError::PlaintextRefused)),
            }
        }
    }
}
