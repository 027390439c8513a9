"""The archive's outer layer: compressed, then sealed with AES-256-GCM in chunks.

    file   = header, then chunks
    header = MAGIC (8) | format version (1) | 0 (1) | key id (8) | salt (32)
    chunk  = length (4, big-endian) | ciphertext of up to CHUNK_BYTES | GCM tag (16)

Each archive gets its own chunk key, HKDF-SHA256(backup key, salt), so the
nonce can be the chunk counter (11 bytes) and a final flag (1 byte) without
ever repeating under one key. The counter makes a dropped or reordered chunk
fail authentication; the final flag makes a file cut at a chunk boundary fail
too; the header is the associated data of every chunk, so no byte of it can
change unnoticed. This is the STREAM construction that age and Tink use.

The key id is an HMAC of a constant under the backup key: it tells a wrong key
from a damaged file without saying anything about the key.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import zlib
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAGIC = b"CPNAVBAK"
FORMAT_VERSION = 1
SALT_BYTES = 32
KEY_ID_BYTES = 8
HEADER_BYTES = len(MAGIC) + 2 + KEY_ID_BYTES + SALT_BYTES
CHUNK_BYTES = 1024 * 1024
TAG_BYTES = 16
# What one call may inflate to: a chunk of zeros decompresses a thousandfold.
_INFLATE_STEP = 1024 * 1024


class BackupError(Exception):
    """A refusal or failure whose message is meant for the operator as it is."""


def key_id(key: bytes) -> bytes:
    return hmac.new(key, b"cpnav backup key id", hashlib.sha256).digest()[:KEY_ID_BYTES]


def _chunk_cipher(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"cpnav backup v1 chunks"
    ).derive(key)
    return AESGCM(derived)


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only file object: what is written comes out compressed and sealed.

    ``close()`` writes the final chunk; a writer that is never closed leaves a
    file that restore calls truncated. ``sha256`` and ``size`` describe the
    bytes written to ``out`` (what an operator can check the stored copy against).
    """

    def __init__(self, out: BinaryIO, key: bytes, *, level: int = 6) -> None:
        if len(key) != 32:
            raise BackupError("the backup key must be 32 bytes (AES-256)")
        salt = os.urandom(SALT_BYTES)
        self._header = MAGIC + bytes([FORMAT_VERSION, 0]) + key_id(key) + salt
        self._cipher = _chunk_cipher(key, salt)
        self._out = out
        self._zlib = zlib.compressobj(level)
        self._pending = bytearray()
        self._counter = 0
        self._closed = False
        self._digest = hashlib.sha256()
        self.size = 0
        self._emit(self._header)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._digest.update(data)
        self.size += len(data)

    def _seal(self, plain: bytes, final: bool) -> None:
        sealed = self._cipher.encrypt(_nonce(self._counter, final), plain, self._header)
        self._emit(len(sealed).to_bytes(4, "big") + sealed)
        self._counter += 1

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed backup archive")
        self._pending += self._zlib.compress(data)
        while len(self._pending) > CHUNK_BYTES:
            self._seal(bytes(self._pending[:CHUNK_BYTES]), final=False)
            del self._pending[:CHUNK_BYTES]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._pending += self._zlib.flush()
        while len(self._pending) > CHUNK_BYTES:
            self._seal(bytes(self._pending[:CHUNK_BYTES]), final=False)
            del self._pending[:CHUNK_BYTES]
        # Always one final chunk, even an empty one: its absence is how a cut is seen.
        self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        self._closed = True


def read_header(src: BinaryIO, keys: dict[bytes, bytes]) -> tuple[bytes, bytes]:
    """Check the header; return it and the matching backup key from ``keys`` (by key id)."""
    header = src.read(HEADER_BYTES)
    if not header.startswith(MAGIC):
        if header and MAGIC.startswith(header):
            raise BackupError("the archive is truncated: it ends inside its header")
        raise BackupError("this is not a CP Navigator backup (its first bytes are not CPNAVBAK)")
    if len(header) < HEADER_BYTES:
        raise BackupError("the archive is truncated: it ends inside its header")
    version = header[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise BackupError(
            f"the archive uses backup format version {version}; this CP Navigator reads "
            f"version {FORMAT_VERSION} only"
        )
    found = header[len(MAGIC) + 2 : len(MAGIC) + 2 + KEY_ID_BYTES]
    key = keys.get(found)
    if key is None:
        configured = ", ".join(k.hex() for k in keys) or "none"
        raise BackupError(
            f"the archive was encrypted with another backup key (key id {found.hex()}; "
            f"CPNAV_BACKUP_KEY here has key id {configured}), or its header is damaged. "
            "Set CPNAV_BACKUP_KEY to the key that made the archive."
        )
    return header, key


class DecryptingReader(io.RawIOBase):
    """Reads back what an EncryptingWriter wrote, refusing anything altered.

    Every chunk is authenticated before a byte of it is handed on; a damaged,
    reordered, truncated or extended file raises BackupError naming the chunk.
    Bytes read before the error were authentic, but callers must still treat
    the whole read as failed.
    """

    def __init__(self, src: BinaryIO, keys: dict[bytes, bytes]) -> None:
        super().__init__()
        self._src = src
        self._header, key = read_header(src, keys)
        self._cipher = _chunk_cipher(key, self._header[-SALT_BYTES:])
        self._zlib = zlib.decompressobj()
        self._counter = 0
        self._final_seen = False
        self._tail = b""
        self._plain = b""
        self._offset = 0
        self._next_length = self._read_length()

    def readable(self) -> bool:
        return True

    @property
    def chunks(self) -> int:
        return self._counter

    def _read_length(self) -> bytes:
        data = self._src.read(4)
        if data and len(data) < 4:
            raise BackupError(f"the archive is truncated: it ends inside chunk {self._counter}")
        return data

    def _open_chunk(self) -> bytes:
        if not self._next_length:
            if self._counter == 0:
                raise BackupError("the archive is truncated: it ends right after its header")
            raise BackupError(
                f"the archive is truncated: it ends after chunk {self._counter - 1}, "
                "before its final chunk"
            )
        length = int.from_bytes(self._next_length, "big")
        if not TAG_BYTES <= length <= CHUNK_BYTES + TAG_BYTES:
            raise BackupError(
                f"the archive is damaged or altered: chunk {self._counter} has an impossible "
                f"length ({length} bytes)"
            )
        sealed = self._src.read(length)
        if len(sealed) < length:
            raise BackupError(f"the archive is truncated: it ends inside chunk {self._counter}")
        self._next_length = self._read_length()
        final = not self._next_length
        try:
            plain = self._cipher.decrypt(_nonce(self._counter, final), sealed, self._header)
        except InvalidTag:
            raise self._why(sealed, final) from None
        self._counter += 1
        self._final_seen = final
        return plain

    def _why(self, sealed: bytes, final: bool) -> BackupError:
        # The same chunk under the other final flag tells a cut or an appended tail
        # from altered bytes.
        try:
            self._cipher.decrypt(_nonce(self._counter, not final), sealed, self._header)
        except InvalidTag:
            return BackupError(
                f"the archive is damaged or altered: chunk {self._counter} failed "
                "authentication (a changed byte, chunks out of order, or another key)"
            )
        if final:
            return BackupError(
                f"the archive is truncated: it ends after chunk {self._counter}, before its "
                "final chunk"
            )
        return BackupError(
            f"the archive has data appended after its final chunk (chunk {self._counter})"
        )

    def _fill(self) -> bool:
        while True:
            if self._tail:
                try:
                    out = self._zlib.decompress(self._tail, _INFLATE_STEP)
                except zlib.error:
                    raise BackupError(
                        "the archive is damaged: its compressed stream does not decode"
                    ) from None
                self._tail = self._zlib.unconsumed_tail
                if out:
                    self._plain, self._offset = out, 0
                    return True
                continue
            if self._final_seen:
                if not self._zlib.eof or self._zlib.unused_data:
                    raise BackupError("the archive is damaged: its compressed stream is incomplete")
                return False
            self._tail = self._open_chunk()

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        if self._offset >= len(self._plain) and not self._fill():
            return 0
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._plain) - self._offset)
        view[:count] = self._plain[self._offset : self._offset + count]
        self._offset += count
        return count

    def drain(self) -> None:
        """Read and authenticate the rest of the file (what a reader stopped short of)."""
        while self._fill():
            self._offset = len(self._plain)
