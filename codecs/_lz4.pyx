# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""LZ4 fast path: the same ``decode_into`` as ``_lz4_ref.py``, in C.

The blocks of one image form one LZ4 stream, so every block is decoded
straight into one output buffer and a match may reach back into earlier blocks
(an LZ4 offset is 16 bits: exactly the 64 KiB window the reference passes as
dictionary). For BIT32/RGBA images stored top-down that buffer is ``out``
itself: no scratch copy, no page-faulting temporaries. Every read is checked
against the block's end, every literal run and match against the image's end
and every offset against the bytes written so far (a match never reaches before
the image's first byte); errors are codes, raised as CodecError outside the
nogil section.

Offset 0 is invalid LZ4, but spice-gtk's decoder (``canvas_get_lz4``:
``LZ4_decompress_safe_continue`` over the image buffer, liblz4 >= 1.9.2) accepts
it and clears the match with zero bytes (lz4_Block_format.md, "Safe
decoding"); so does this one, so a damaged stream gives spice-gtk's pixels.

The block grammar is LZ4's (github.com/lz4/lz4 doc/lz4_Block_format.md): a
token (literal length nibble, match length nibble), length extension bytes
while 255, the literals, a little-endian 16-bit offset, the match. A block ends
right after a literal run. liblz4 (the reference twin) also rejects a few
streams breaking the encoder's end-of-block conventions (last 5 bytes
literals, last match 12 bytes before the end, relative to its output
capacity); this decoder accepts them, with the same pixels as any other
well-formed stream.
"""

from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy, memset

import numpy as np

from spicepy.codecs._common import CodecError

include "_buffers.pxi"

cdef enum:
    FMT_BIT16 = 6
    FMT_BIT24 = 7
    FMT_BIT32 = 8
    FMT_RGBA = 9

cdef enum:
    ERR_LENGTH_TRUNCATED = 1
    ERR_BLOCK_PAST_END = 2
    ERR_CONTINUES = 3
    ERR_TRUNCATED = 4
    ERR_OUTPUT_END = 5
    ERR_OFFSET = 6
    ERR_ENDS_WITH_MATCH = 7
    ERR_EMPTY = 8
    ERR_SHORT = 9

_MESSAGES = {
    ERR_LENGTH_TRUNCATED: "LZ4 block length truncated",
    ERR_BLOCK_PAST_END: "LZ4 block runs past the end of the data",
    ERR_CONTINUES: "LZ4 data continues past the end of the image",
    ERR_TRUNCATED: "bad LZ4 block: truncated sequence",
    ERR_OUTPUT_END: "bad LZ4 block: output runs past the end of the image",
    ERR_OFFSET: "bad LZ4 block: match offset outside the output",
    ERR_ENDS_WITH_MATCH: "bad LZ4 block: block ends with a match",
    ERR_EMPTY: "empty LZ4 block",
    ERR_SHORT: "LZ4 data decodes to fewer bytes than the image",
}


cdef Py_ssize_t _block(
    const uint8_t* ip, Py_ssize_t size, uint8_t* dst, Py_ssize_t op, Py_ssize_t total
) noexcept nogil:
    """Decode one block into dst[op:total]; the new op, or -error."""
    cdef const uint8_t* iend = ip + size
    cdef Py_ssize_t lit, mlen, off, start, chunk
    cdef unsigned int token, b
    while True:
        token = ip[0]  # ip < iend: checked before every token
        ip += 1
        lit = token >> 4
        if lit == 15:
            while True:
                if ip >= iend:
                    return -ERR_TRUNCATED
                b = ip[0]
                ip += 1
                lit += b
                if b != 255:
                    break
        if lit > iend - ip:
            return -ERR_TRUNCATED
        if lit > total - op:
            return -ERR_OUTPUT_END
        if lit <= 16 and iend - ip >= 16 and total - op >= 16:
            memcpy(dst + op, ip, 16)  # fixed size: inlined; the excess is rewritten
        else:
            memcpy(dst + op, ip, <size_t>lit)
        op += lit
        ip += lit
        if ip == iend:
            return op  # the last sequence: literals only
        if iend - ip < 2:
            return -ERR_TRUNCATED
        off = ip[0] | (<Py_ssize_t>ip[1] << 8)
        ip += 2
        if off > op:
            return -ERR_OFFSET
        mlen = token & 15
        if mlen == 15:
            while True:
                if ip >= iend:
                    return -ERR_TRUNCATED
                b = ip[0]
                ip += 1
                mlen += b
                if b != 255:
                    break
        mlen += 4
        if mlen > total - op:
            return -ERR_OUTPUT_END
        start = op - off
        if off <= 1:
            # a run of one byte (the first image is one 3 MB match of offset
            # 1); offset 0 is invalid LZ4, liblz4 (spice-gtk's decoder) writes
            # zeros
            memset(dst + op, dst[start] if off else 0, <size_t>mlen)
            op += mlen
        elif off >= 16 and total - op >= mlen + 16:
            # 16-byte steps (inlined), each source written before it is read
            chunk = 0
            while chunk < mlen:
                memcpy(dst + op + chunk, dst + start + chunk, 16)
                chunk += 16
            op += mlen
        elif off >= mlen:
            memcpy(dst + op, dst + start, <size_t>mlen)
            op += mlen
        else:
            # an overlapping match repeats dst[start:op] (period off); each
            # copy of everything from start is disjoint from its target and
            # doubles what can be copied next
            while mlen > 0:
                chunk = op - start
                if chunk > mlen:
                    chunk = mlen
                memcpy(dst + op, dst + start, <size_t>chunk)
                op += chunk
                mlen -= chunk
        if ip >= iend:
            return -ERR_ENDS_WITH_MATCH


cdef int _inflate(
    const uint8_t* data, Py_ssize_t pos, Py_ssize_t end, uint8_t* dst, Py_ssize_t total
) noexcept nogil:
    """The block sequence data[pos:end] into exactly dst[:total]; 0 or an error."""
    cdef Py_ssize_t filled = 0, size, got
    while True:  # at least one block, as upstream's do/while
        if end - pos < 4:
            return ERR_LENGTH_TRUNCATED
        size = (
            (<Py_ssize_t>data[pos] << 24) | (<Py_ssize_t>data[pos + 1] << 16)
            | (<Py_ssize_t>data[pos + 2] << 8) | data[pos + 3]
        )
        pos += 4
        if size > end - pos:
            return ERR_BLOCK_PAST_END
        if filled >= total or size == 0:
            return ERR_CONTINUES
        got = _block(data + pos, size, dst, filled, total)
        if got < 0:
            return <int>-got
        if got == filled:
            return ERR_EMPTY
        filled = got
        pos += size
        if pos >= end:
            break
    return 0 if filled == total else ERR_SHORT


cdef void _convert(
    const uint8_t* raw, int fmt, bint top_down, uint8_t* out, Py_ssize_t h, Py_ssize_t w
) noexcept nogil:
    """raw rows (fmt's packing) to out's B,G,R,X/A rows, flipping bottom-up ones."""
    cdef Py_ssize_t y, x, bpp, row
    cdef const uint8_t* s
    cdef uint8_t* o
    cdef uint32_t* o32
    cdef unsigned int v, c
    bpp = 2 if fmt == FMT_BIT16 else 3 if fmt == FMT_BIT24 else 4
    for y in range(h):
        row = y if top_down else h - 1 - y
        s = raw + row * w * bpp
        o = out + y * w * 4
        if fmt == FMT_BIT16:
            for x in range(w):
                v = s[2 * x] | (<unsigned int>s[2 * x + 1] << 8)
                c = v & 31
                o[4 * x] = <uint8_t>((c << 3) | (c >> 2))
                c = (v >> 5) & 31
                o[4 * x + 1] = <uint8_t>((c << 3) | (c >> 2))
                c = (v >> 10) & 31
                o[4 * x + 2] = <uint8_t>((c << 3) | (c >> 2))
                o[4 * x + 3] = 0
        elif fmt == FMT_BIT24:
            for x in range(w):
                o[4 * x] = s[3 * x]
                o[4 * x + 1] = s[3 * x + 1]
                o[4 * x + 2] = s[3 * x + 2]
                o[4 * x + 3] = 0
        else:
            if s != o:
                memcpy(o, s, <size_t>(w * 4))
            if fmt == FMT_BIT32:  # the X byte is padding
                if <size_t>o % sizeof(uint32_t) == 0:
                    o32 = <uint32_t*>o  # little-endian: X is the high byte
                    for x in range(w):
                        o32[x] &= 0x00FFFFFF
                else:
                    for x in range(w):
                        o[4 * x + 3] = 0


def decode_into(data, Py_ssize_t pos, int fmt, bint top_down, out):
    """Decode the blocks of ``data[pos:]`` (bitmap format ``fmt``) into ``out``,
    a C-contiguous (height, width, 4) uint8 array. Both are read through the
    buffer protocol (``_buffers.pxi``).

    Raises:
        CodecError: corrupt, truncated or wrongly sized data.
    """
    cdef Py_ssize_t h, w, end, bpp, total
    cdef int err
    cdef uint8_t* raw
    cdef uint8_t[::1] scratch
    cdef Py_buffer src, dst
    if fmt == FMT_BIT16:
        bpp = 2
    elif fmt == FMT_BIT24:
        bpp = 3
    elif fmt == FMT_BIT32 or fmt == FMT_RGBA:
        bpp = 4
    else:
        raise CodecError(f"unsupported bitmap format {fmt} with LZ4")
    _byte_buffer(data, &src, PyBUF_SIMPLE)
    try:
        _byte_buffer(out, &dst, PyBUF_WRITABLE)
        try:
            end = src.len
            if dst.ndim != 3 or dst.shape[2] != 4 or pos < 0 or pos > end:
                raise ValueError("decode_into needs a (height, width, 4) array")
            h, w = dst.shape[0], dst.shape[1]
            if h <= 0 or w <= 0:
                raise ValueError("decode_into needs a (height, width, 4) array")
            total = h * w * bpp
            if bpp == 4 and top_down:
                raw = <uint8_t*>dst.buf  # the pixels need no repacking: in place
            else:
                scratch = np.empty(total, dtype=np.uint8)
                raw = &scratch[0]
            with nogil:
                err = _inflate(<const uint8_t*>src.buf, pos, end, raw, total)
                if err == 0:
                    _convert(raw, fmt, top_down, <uint8_t*>dst.buf, h, w)
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)
    if err:
        raise CodecError(_MESSAGES[err])
