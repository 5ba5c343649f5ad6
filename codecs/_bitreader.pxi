# Shared inline bit I/O for the Cython codecs (included, never cimported).
#
# BitReader: MSB-first bits of little-endian 32-bit words (QUIC's layout,
# spice-common quic.c read_io_word / decode_eatbits). ``acc`` holds the next
# bits MSB-aligned, at least 32 of them between calls, so ``br_peek`` is the
# 32-bit window quic.c calls io_word. Words past the end read as zero; the
# caller asks ``br_overrun`` whether any of those bits were consumed, which
# bounds every loop by the input length without a check per codeword.
#
# BitWriter: the matching sink; the caller guarantees capacity with bw_reserve.

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport realloc
from libc.string cimport memcpy


ctypedef struct BitReader:
    const uint8_t *data
    size_t nwords   # whole words in data
    size_t next     # index of the next word to load (may pass nwords)
    uint64_t acc
    int avail       # valid bits in acc


cdef inline uint32_t ld_le32(const uint8_t *p) noexcept nogil:
    # a single unaligned load; the importing module refuses big-endian hosts
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline void st_le32(uint8_t *p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)


cdef inline uint64_t br_word(BitReader *br) noexcept nogil:
    cdef uint64_t w = 0
    if br.next < br.nwords:
        w = ld_le32(br.data + 4 * br.next)
    br.next += 1
    return w


cdef inline void br_init(BitReader *br, const uint8_t *data, size_t size, size_t start_word) noexcept nogil:
    br.data = data
    br.nwords = size >> 2
    br.next = start_word
    br.acc = br_word(br) << 32
    br.acc |= br_word(br)
    br.avail = 64


cdef inline uint32_t br_peek(BitReader *br) noexcept nogil:
    return <uint32_t>(br.acc >> 32)


cdef inline void br_eat(BitReader *br, int n) noexcept nogil:
    # 1 <= n <= 31
    br.acc <<= n
    br.avail -= n
    if br.avail < 32:
        br.acc |= br_word(br) << (32 - br.avail)
        br.avail += 32


cdef inline bint br_overrun(BitReader *br) noexcept nogil:
    """True once bits past the end of the data have been consumed."""
    return br.next * 32 - <size_t>br.avail > br.nwords * 32


ctypedef struct BitWriter:
    uint8_t *buf
    size_t cap      # bytes
    size_t n        # bytes written
    uint64_t acc
    int nbits       # pending bits in the low end of acc (< 32 between calls)


cdef inline bint bw_reserve(BitWriter *bw, size_t nbytes) noexcept nogil:
    """Make room for nbytes more; False when memory runs out."""
    cdef size_t cap = bw.cap
    cdef uint8_t *p
    if bw.n + nbytes <= cap:
        return True
    while bw.n + nbytes > cap:
        cap = cap * 2 + 64
    p = <uint8_t *>realloc(bw.buf, cap)
    if p == NULL:
        return False
    bw.buf = p
    bw.cap = cap
    return True


cdef inline void bw_put(BitWriter *bw, uint32_t v, int n) noexcept nogil:
    # 1 <= n <= 31, v < 2**n
    bw.acc = (bw.acc << n) | v
    bw.nbits += n
    if bw.nbits >= 32:
        bw.nbits -= 32
        st_le32(bw.buf + bw.n, <uint32_t>(bw.acc >> bw.nbits))
        bw.n += 4
