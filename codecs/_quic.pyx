# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""QUIC fast path: ``decode_body`` and ``encode_body`` of ``_quic_ref.py`` in C.

The algorithm and its tables are the reference twin's (read that first); the
tables are copied from it at import. Each row coder is specialised per group
layout through a fused "tag" type (GRAY, RGB, RGB16, alpha), so channel counts,
sample offsets and the family are compile-time constants.

Speed: each channel keeps, per context byte, its current Golomb code and a
10-bit lookup table of that code's short codewords (refreshed when a bucket's
best code changes), so most samples decode with one table load and no
GR / not-GR branch; the last residual and sample of each channel stay in
registers, and the bit reader / writer live in locals (byte stores to the image
may alias anything reached through a pointer). Column indices are Py_ssize_t:
an int index is sign-extended and rescaled at each use (with int, decoding took
5 % more instructions on noisy RGBA captures, 34 % more on the desktop
vector). Small images update the model at nearly every pixel: the update
counts branch-free (SSE2) and keeps its rare table refresh out of line.
Changes here move gcc's register allocation of the whole row loop: measure
instructions with ``benchmarks/bench_quic.py --instructions`` and CPU time
against spice-common's quic.c with ``--vs-quic-c`` (several plausible
rewrites, e.g. loop copies without the first-row tests or a branch-free bit
reader refill, came out slower).

Safety without bounds checks: every column index is < width (runs are checked
against the row end before copying), residuals are bytes, codes are < 8, and
the bit reader reads zeros past the data, reporting the overrun once per row
and inside run decoding (which is also bounded by the row end).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import sys

from spicepy.codecs import _quic_ref
from spicepy.codecs._common import CodecError

include "_bitreader.pxi"
include "_buffers.pxi"

if sys.byteorder != "little":  # the word loads and stores assume it
    raise ImportError("the QUIC fast path needs a little-endian host")

cdef extern from *:
    int __builtin_clz(unsigned int) nogil
    long __builtin_expect(long, long) nogil

cdef extern from *:
    """
    /* update_model's counting for an 8-bit family, branch-free with SSE2 (every
       x86-64): the 8 counters as two vectors, the smallest sum broadcast, the
       best code the highest index holding it. Counters stay far below 2**31
       (all are halved once the smallest passes the trigger, and a step adds at
       most a codeword length), so signed compares order them. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #define QUIC_SSE2 1
    static inline __m128i quic_min_epi32(__m128i a, __m128i b) {
        __m128i gt = _mm_cmpgt_epi32(a, b);
        return _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a));
    }
    static inline int quic_count8(uint32_t *cnt, const uint8_t *lens, uint32_t trigger) {
        __m128i z = _mm_setzero_si128();
        __m128i l16 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)lens), z);
        __m128i lo = _mm_add_epi32(_mm_loadu_si128((const __m128i *)cnt),
                                   _mm_unpacklo_epi16(l16, z));
        __m128i hi = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(cnt + 4)),
                                   _mm_unpackhi_epi16(l16, z));
        __m128i m = quic_min_epi32(lo, hi);
        m = quic_min_epi32(m, _mm_shuffle_epi32(m, 0x4E));
        m = quic_min_epi32(m, _mm_shuffle_epi32(m, 0xB1));
        int eq = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, m)))
                 | (_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, m))) << 4);
        if ((uint32_t)_mm_cvtsi128_si32(m) > trigger) {
            lo = _mm_srli_epi32(lo, 1);
            hi = _mm_srli_epi32(hi, 1);
        }
        _mm_storeu_si128((__m128i *)cnt, lo);
        _mm_storeu_si128((__m128i *)(cnt + 4), hi);
        return 31 - __builtin_clz((unsigned)eq);
    }
    #else
    #define QUIC_SSE2 0
    static inline int quic_count8(uint32_t *cnt, const uint8_t *lens, uint32_t trigger) {
        return 0;  /* not called: update_model's loop runs instead */
    }
    #endif

    /* set_code's stores, out of line: a bucket's best code changes far less
       often than update_model runs, and inlined there these loops made every
       update_model call save and restore six registers (4 % of the decode's
       CPU time on gradients-auto_glz). Contexts are bytes; a 5-bit family sees
       them modulo 32 (period), so its bucket ranges repeat. */
    #if defined(__GNUC__)
    __attribute__((noinline, cold))
    #endif
    static void quic_fill_code(uint8_t *code_of, const uint16_t **lut_of,
                               const uint16_t *lut, uint8_t best, unsigned lo,
                               unsigned hi, unsigned period) {
        for (unsigned base = 0; base < 256; base += period)
            for (unsigned v = base + lo; v <= base + hi; v++) {
                code_of[v] = best;
                lut_of[v] = lut;
            }
    }
    """
    const bint QUIC_SSE2
    int quic_count8(uint32_t *cnt, const uint8_t *lens, uint32_t trigger) noexcept nogil
    void quic_fill_code(uint8_t *code_of, const uint16_t **lut_of, const uint16_t *lut,
                        uint8_t best, unsigned lo, unsigned hi, unsigned period) noexcept nogil


cdef enum:
    WMI_MAX = 6
    WMI_NEXT = 2048
    MELC_STATES = 32
    ERR_TRUNCATED = 1
    ERR_RUN = 2
    ERR_NOMEM = 3
    LUT_BITS = 10
    LUT_SIZE = 1 << LUT_BITS
    MAX_SIDE = 1 << 30   # output sides are ints (quic.py allows far less)


ctypedef struct Family:
    uint32_t bpc
    uint32_t mask
    uint32_t ngr[8]
    uint32_t notgr_len[8]
    uint32_t notgr_suffix_mask[8]
    uint32_t prefix_mask[8]
    uint32_t code[256][8]
    uint8_t code_len[256][8]
    uint8_t u2l[256]
    uint8_t l2u[256]
    uint8_t bucket_of[256]   # by context & mask
    uint32_t nbuckets
    uint8_t bucket_lo[8]
    uint8_t bucket_hi[8]
    # codewords of at most LUT_BITS bits by (code, next LUT_BITS bits):
    # (length << 8) | value, 0 for longer codewords
    uint16_t lut[8][LUT_SIZE]


ctypedef struct State:
    uint32_t waitcnt
    uint32_t seed
    uint32_t wmidx
    uint32_t wmileft
    uint32_t trigger
    int melcstate
    int melclen


ctypedef struct Channel:
    uint32_t counters[8][8]
    uint8_t bestcode[8]
    # bestcode of each context byte's bucket, and that code's lookup table
    # (refreshed when a bucket's best code changes)
    uint8_t code_of[256]
    const uint16_t *lut_of[256]


ctypedef struct Group:
    State st
    Channel ch[3]
    # folded residuals, channels interleaved: corr[4 * (i + 1) + c] is channel
    # c's at column i, corr[c] its column -1 (the alpha group uses lane 3)
    uint8_t *corr


cdef Family FAM8
cdef Family FAM5
cdef uint32_t CHAOS[256]
cdef uint32_t TRIGGER[11]
cdef int MELC_J[32]


cdef void _load_family(Family *f, object ref):
    cdef int n, k
    f.bpc = ref.bpc
    f.mask = ref.mask
    f.nbuckets = ref.nbuckets
    for k in range(8):
        f.ngr[k] = ref.ngr[k] if k < ref.bpc else 0
        f.notgr_len[k] = ref.notgr_len[k] if k < ref.bpc else 0
        f.notgr_suffix_mask[k] = (1 << ref.suffix[k]) - 1 if k < ref.bpc else 0
        f.prefix_mask[k] = ref.prefix_mask[k] if k < ref.bpc else 0
    for n in range(ref.nbuckets):
        f.bucket_lo[n] = ref.bucket_of.index(n)
        f.bucket_hi[n] = ref.mask - ref.bucket_of[::-1].index(n)
    for n in range(256):
        f.l2u[n] = ref.l2u[n]
        f.u2l[n] = ref.u2l[n & ref.mask]
        f.bucket_of[n] = ref.bucket_of[n & ref.mask]
        for k in range(8):
            if k < ref.bpc:
                f.code[n][k], f.code_len[n][k] = ref._code(n, k)
            else:
                f.code[n][k] = f.code_len[n][k] = 0
    cdef uint32_t bits, length, value, zeros
    # in C from the fields just copied (no Python objects: this runs at import)
    for k in range(8):
        for n in range(LUT_SIZE):
            f.lut[k][n] = 0
            if k >= <int>f.bpc or n == 0:
                continue
            # golomb_decoding on a window whose first LUT_BITS bits are n; the
            # result depends on those bits alone when the codeword fits in them
            bits = <uint32_t>n << (32 - LUT_BITS)
            if bits > f.prefix_mask[k]:
                zeros = __builtin_clz(bits)  # bits > prefix_mask >= 0: no zero
                length = zeros + 1 + k
                value = (zeros << k) | ((bits >> (32 - length)) & ((1u << k) - 1))
            else:
                length = f.notgr_len[k]
                value = f.ngr[k] + ((bits >> (32 - length)) & f.notgr_suffix_mask[k])
            if length <= LUT_BITS:
                f.lut[k][n] = (length << 8) | (value & 0xFF)


_load_family(&FAM8, _quic_ref.FAMILY[8])
_load_family(&FAM5, _quic_ref.FAMILY[5])
for _i in range(256):
    CHAOS[_i] = _quic_ref.TABRAND_CHAOS[_i]
for _i in range(11):
    TRIGGER[_i] = _quic_ref.BEST_TRIGGER[_i]
for _i in range(32):
    MELC_J[_i] = _quic_ref.MELC_J[_i]


# Group layouts. Samples are bytes of 4-byte B,G,R,X/A pixels; channels are
# coded in the order r, g, b (bytes 2, 1, 0).
ctypedef struct GrayTag:
    char unused
ctypedef struct RgbTag:
    char unused
ctypedef struct Rgb16Tag:
    char unused
ctypedef struct AlphaTag:
    char unused
ctypedef fused Tag:
    GrayTag
    RgbTag
    Rgb16Tag
    AlphaTag


cdef inline uint32_t sample(Tag *t, const uint8_t *px, int c) noexcept nogil:
    """Channel c of the pixel at px (RGB16: the top 5 bits)."""
    if Tag is GrayTag:
        return px[0]
    elif Tag is AlphaTag:
        return px[3]
    elif Tag is Rgb16Tag:
        return px[2 - c] >> 3
    else:
        return px[2 - c]


cdef inline bint same(Tag *t, const uint8_t *a, const uint8_t *b) noexcept nogil:
    """SAME_PIXEL: the coded samples of two pixels are equal."""
    cdef uint32_t m
    if Tag is GrayTag:
        m = 0xFF
    elif Tag is AlphaTag:
        m = 0xFF000000
    elif Tag is Rgb16Tag:
        m = 0x00F8F8F8
    else:
        m = 0x00FFFFFF
    return ((ld_le32(a) ^ ld_le32(b)) & m) == 0


cdef inline uint32_t tabrand(State *st) noexcept nogil:
    st.seed = (st.seed + 1) & 0xFF
    return CHAOS[st.seed]


cdef inline const Family *family(Tag *t) noexcept nogil:
    if Tag is Rgb16Tag:
        return &FAM5
    else:
        return &FAM8


cdef inline uint32_t bits_per_channel(Tag *t) noexcept nogil:
    if Tag is Rgb16Tag:
        return 5
    else:
        return 8


cdef inline uint32_t context(Tag *t, const uint8_t *corr, Py_ssize_t i) noexcept nogil:
    """Bucket index for column i: the folded residual at column i - 1."""
    if Tag is Rgb16Tag:
        return FAM5.bucket_of[corr[4 * i] & 0x1F]
    else:
        return FAM8.bucket_of[corr[4 * i]]


cdef inline void set_code(Tag *t, Channel *ch, uint32_t b, int best) noexcept nogil:
    """Make ``best`` bucket b's code, in bestcode and the per-context tables."""
    cdef const Family *fam = family(t)
    ch.bestcode[b] = best
    quic_fill_code(ch.code_of, ch.lut_of, fam.lut[best], best, fam.bucket_lo[b],
                   fam.bucket_hi[b], 1u << bits_per_channel(t))


cdef inline void update_model(Tag *t, Channel *ch, const uint8_t *corr, Py_ssize_t i,
                              uint32_t trigger) noexcept nogil:
    """update_model for column i of one channel: the best code is the one with
    the smallest sum of lengths, the highest such index (quic.c scans down and
    replaces on "<" only). The scan's compare chain mispredicts on noisy images:
    with SSE2 the 8-code families count branch-free (5 % less CPU time on
    gradients-auto_glz's images)."""
    cdef uint32_t b = context(t, corr, i)
    cdef uint32_t *cnt = ch.counters[b]
    cdef const uint8_t *lens = family(t).code_len[corr[4 * (i + 1)]]
    cdef int k, bpc = bits_per_channel(t), best = bpc - 1
    cdef uint32_t best_len
    if QUIC_SSE2 and not Tag is Rgb16Tag:
        best = quic_count8(cnt, lens, trigger)
    else:
        cnt[best] += lens[best]
        best_len = cnt[best]
        for k in range(bpc - 2, -1, -1):
            cnt[k] += lens[k]
            if cnt[k] < best_len:
                best = k
                best_len = cnt[k]
        if best_len > trigger:
            for k in range(bpc):
                cnt[k] >>= 1
    if ch.bestcode[b] != best:
        set_code(t, ch, b, best)


cdef inline void update_all(Tag *t, Group *g, uint8_t *cb, Py_ssize_t i) noexcept nogil:
    cdef uint32_t trigger = g.st.trigger
    update_model(t, &g.ch[0], cb, i, trigger)
    if not (Tag is GrayTag or Tag is AlphaTag):
        update_model(t, &g.ch[1], cb + 1, i, trigger)
        update_model(t, &g.ch[2], cb + 2, i, trigger)


cdef inline uint32_t melc_order(State *st) noexcept nogil:
    return 1u << MELC_J[st.melcstate]


cdef inline void melc_up(State *st) noexcept nogil:
    if st.melcstate < MELC_STATES - 1:
        st.melcstate += 1
        st.melclen = MELC_J[st.melcstate]


cdef inline void melc_down(State *st) noexcept nogil:
    if st.melcstate:
        st.melcstate -= 1
        st.melclen = MELC_J[st.melcstate]


# ------------------------------------------------------------------ decoder


cdef inline uint32_t dec_value(Tag *t, Channel *ch, uint32_t ctx,
                               BitReader *br) noexcept nogil:
    """golomb_decoding of one folded residual whose context is ``ctx``."""
    cdef const Family *fam = family(t)
    cdef uint32_t k
    cdef uint32_t bits = br_peek(br)
    cdef uint32_t zeros, n, v
    cdef uint32_t e = ch.lut_of[ctx][bits >> (32 - LUT_BITS)]
    if __builtin_expect(e != 0, 1):  # most codewords fit in the table
        br_eat(br, e >> 8)
        return e & 0xFF
    k = ch.code_of[ctx]
    if bits > fam.prefix_mask[k]:
        zeros = __builtin_clz(bits)
        n = zeros + 1 + k
        # the k bits after the one, below (zeros << k)
        v = ((zeros - 1) << k) + ((bits << zeros) >> (31 - k))
    else:
        n = fam.notgr_len[k]
        v = fam.ngr[k] + ((bits >> (32 - n)) & fam.notgr_suffix_mask[k])
    br_eat(br, n)
    return v & 0xFF


cdef inline void put_pixel(Tag *t, uint8_t *px, uint32_t r, uint32_t gr, uint32_t b) noexcept nogil:
    """Store decoded samples (r only for one-channel groups) as output bytes."""
    if Tag is GrayTag:
        st_le32(px, r * 0x010101u)
    elif Tag is AlphaTag:
        px[3] = <uint8_t>r
    elif Tag is Rgb16Tag:
        st_le32(px, ((b << 3) | (b >> 2)) | (((gr << 3) | (gr >> 2)) << 8)
                | (((r << 3) | (r >> 2)) << 16))
    else:
        st_le32(px, b | (gr << 8) | (r << 16))


ctypedef struct Carry:
    # each channel's last residual (the next context) and last sample, kept in
    # named fields so the compiler can hold them in registers
    uint32_t ctx0, ctx1, ctx2
    uint32_t left0, left1, left2


cdef inline uint32_t predict(Tag *t, uint32_t left, const uint8_t *prev, Py_ssize_t i,
                             int c) noexcept nogil:
    """The predictor: left on the first row, above at column 0, else their floor mean."""
    if prev == NULL:
        return left if i else 0
    elif i:
        return (left + sample(t, prev + 4 * i, c)) >> 1
    else:
        return sample(t, prev, c)


cdef inline uint32_t dec_sample(Tag *t, Channel *ch, BitReader *br, uint8_t *corr,
                                uint32_t *ctx, uint32_t left, const uint8_t *prev,
                                Py_ssize_t i, int c) noexcept nogil:
    """Decode channel c at column i (CORRELATE_0 / CORRELATE); returns the sample."""
    cdef uint32_t pred = predict(t, left, prev, i, c)
    cdef uint32_t u = dec_value(t, ch, ctx[0], br)
    corr[4 * (i + 1)] = <uint8_t>u
    ctx[0] = u
    return (family(t).l2u[u] + pred) & ((1u << bits_per_channel(t)) - 1)


cdef inline void dec_pixel(Tag *t, Group *g, BitReader *br, uint8_t *cb,
                           Carry *k, uint8_t *cur, const uint8_t *prev,
                           Py_ssize_t i) noexcept nogil:
    """Decode column i of every channel of the group (r, g, b order)."""
    k.left0 = dec_sample(t, &g.ch[0], br, cb, &k.ctx0, k.left0, prev, i, 0)
    if Tag is GrayTag or Tag is AlphaTag:
        put_pixel(t, cur + 4 * i, k.left0, 0, 0)
    else:
        k.left1 = dec_sample(t, &g.ch[1], br, cb + 1, &k.ctx1, k.left1, prev, i, 1)
        k.left2 = dec_sample(t, &g.ch[2], br, cb + 2, &k.ctx2, k.left2, prev, i, 2)
        put_pixel(t, cur + 4 * i, k.left0, k.left1, k.left2)


cdef inline void reload(Tag *t, uint8_t *cb, Carry *k, const uint8_t *cur,
                        Py_ssize_t i) noexcept nogil:
    """Contexts and left samples of column i from memory (segment start, after runs):
    columns a run covered keep older rows' residuals, so the next context is stale data."""
    k.ctx0 = cb[4 * i]
    k.left0 = sample(t, cur + 4 * (i - 1), 0) if i else 0
    if not (Tag is GrayTag or Tag is AlphaTag):
        k.ctx1 = cb[4 * i + 1]
        k.ctx2 = cb[4 * i + 2]
        k.left1 = sample(t, cur + 4 * (i - 1), 1) if i else 0
        k.left2 = sample(t, cur + 4 * (i - 1), 2) if i else 0


cdef inline int dec_run(State *st, BitReader *br, int limit) noexcept nogil:
    """decode_state_run; -1 when the run passes ``limit`` or the data ends."""
    cdef uint32_t run = 0, bits, ones
    while True:
        bits = br_peek(br)
        if not (bits >> 31):
            break
        ones = 24 if ~bits == 0 else __builtin_clz(~bits)
        if ones > 24:
            ones = 24
        br_eat(br, ones)
        while ones:
            run += melc_order(st)
            melc_up(st)
            ones -= 1
        if run > <uint32_t>limit or br_overrun(br):
            return -1
    br_eat(br, 1)
    if st.melclen:
        run += br_peek(br) >> (32 - st.melclen)
        br_eat(br, st.melclen)
    melc_down(st)
    if run > <uint32_t>limit:
        return -1
    return <int>run


cdef int dec_segment(Tag *t, Group *g, BitReader *gbr, uint8_t *cur, const uint8_t *prev,
                     Py_ssize_t i, Py_ssize_t end, uint32_t waitmask) noexcept nogil:
    # Work on local copies: byte stores to the image may alias anything, so
    # state reached through pointers would be reloaded after every store.
    cdef BitReader lbr = gbr[0]
    cdef uint8_t *cb = g.corr
    cdef int err = dec_segment_body(t, g, &lbr, cb, cur, prev, i, end, waitmask)
    gbr[0] = lbr
    return err


cdef inline int dec_segment_body(Tag *t, Group *g, BitReader *br, uint8_t *cb,
                                 uint8_t *cur, const uint8_t *prev, Py_ssize_t i, Py_ssize_t end,
                                 uint32_t waitmask) noexcept nogil:
    cdef State *st = &g.st
    cdef Py_ssize_t stopidx, run_index = 0, wait, n, j
    cdef uint8_t a
    cdef Carry k
    reload(t, cb, &k, cur, i)
    if i == 0:
        dec_pixel(t, g, br, cb, &k, cur, prev, 0)
        if st.waitcnt:
            st.waitcnt -= 1
        else:
            st.waitcnt = tabrand(st) & waitmask
            update_all(t, g, cb, 0)
        i = 1
    stopidx = i + st.waitcnt
    while i < end:
        if (prev != NULL and i > 2 and i != run_index and same(t, prev + 4 * (i - 1), prev + 4 * i)
                and same(t, cur + 4 * (i - 1), cur + 4 * (i - 2))):
            run_index = i
            wait = stopidx - i
            n = dec_run(st, br, end - i)
            if n < 0:
                return ERR_RUN
            if Tag is AlphaTag:
                # the value in a local: no store has to be read back
                a = cur[4 * i - 1]
                for j in range(i, i + n):
                    cur[4 * j + 3] = a
            else:
                for j in range(i, i + n):
                    st_le32(cur + 4 * j, ld_le32(cur + 4 * (i - 1)))
            i += n
            stopidx = i + wait
            # run columns keep older rows' residuals: the next context is stale data
            reload(t, cb, &k, cur, i)
            continue
        dec_pixel(t, g, br, cb, &k, cur, prev, i)
        if i == stopidx:
            update_all(t, g, cb, i)
            stopidx = i + 1 + <int>(tabrand(st) & waitmask)
        i += 1
    st.waitcnt = stopidx - end
    return 0


cdef int dec_row(Tag *t, Group *g, BitReader *br, uint8_t *cur, const uint8_t *prev,
                 int width) noexcept nogil:
    """uncompress_row(0): the wait-mask index steps every WMI_NEXT samples."""
    cdef State *st = &g.st
    cdef int pos = 0, err, c
    cdef int nch = 1 if (Tag is GrayTag or Tag is AlphaTag) else 3
    for c in range(nch):
        g.corr[c] = 0 if prev == NULL else g.corr[4 + c]
    while WMI_MAX > st.wmidx and st.wmileft <= <uint32_t>width:
        if st.wmileft:
            err = dec_segment(t, g, br, cur, prev, pos, pos + st.wmileft, (1u << st.wmidx) - 1)
            if err:
                return err
            width -= st.wmileft
            pos += st.wmileft
        st.wmidx += 1
        st.trigger = TRIGGER[st.wmidx]
        st.wmileft = WMI_NEXT
    if width:
        err = dec_segment(t, g, br, cur, prev, pos, pos + width, (1u << st.wmidx) - 1)
        if err:
            return err
        if WMI_MAX > st.wmidx:
            st.wmileft -= width
    return ERR_TRUNCATED if br_overrun(br) else 0


# ------------------------------------------------------------------ encoder


cdef inline uint32_t enc_sample(Tag *t, Channel *ch, BitWriter *bw, uint8_t *corr,
                                uint32_t *ctx, uint32_t left, const uint8_t *cur,
                                const uint8_t *prev, Py_ssize_t i, int c) noexcept nogil:
    """Code channel c at column i (DECORRELATE_0 / DECORRELATE); returns the sample."""
    cdef const Family *fam = family(t)
    cdef uint32_t v = sample(t, cur + 4 * i, c)
    cdef uint32_t u = fam.u2l[(v - predict(t, left, prev, i, c))
                              & ((1u << bits_per_channel(t)) - 1)]
    cdef uint32_t code = ch.code_of[ctx[0]]
    corr[4 * (i + 1)] = <uint8_t>u
    ctx[0] = u
    bw_put(bw, fam.code[u][code], fam.code_len[u][code])
    return v


cdef inline void enc_pixel(Tag *t, Group *g, BitWriter *bw, uint8_t *cb,
                           Carry *k, const uint8_t *cur, const uint8_t *prev,
                           Py_ssize_t i) noexcept nogil:
    k.left0 = enc_sample(t, &g.ch[0], bw, cb, &k.ctx0, k.left0, cur, prev, i, 0)
    if not (Tag is GrayTag or Tag is AlphaTag):
        k.left1 = enc_sample(t, &g.ch[1], bw, cb + 1, &k.ctx1, k.left1, cur, prev, i, 1)
        k.left2 = enc_sample(t, &g.ch[2], bw, cb + 2, &k.ctx2, k.left2, cur, prev, i, 2)


cdef inline void enc_run(State *st, BitWriter *bw, uint32_t run) noexcept nogil:
    """encode_state_run."""
    while run >= melc_order(st):
        run -= melc_order(st)
        bw_put(bw, 1, 1)
        melc_up(st)
    bw_put(bw, run, st.melclen + 1)
    melc_down(st)


cdef void enc_segment(Tag *t, Group *g, BitWriter *gbw, const uint8_t *cur,
                      const uint8_t *prev, Py_ssize_t i, Py_ssize_t end,
                      uint32_t waitmask) noexcept nogil:
    cdef BitWriter lbw = gbw[0]   # local copies, as in dec_segment
    cdef uint8_t *cb = g.corr
    enc_segment_body(t, g, &lbw, cb, cur, prev, i, end, waitmask)
    gbw[0] = lbw


cdef inline void enc_segment_body(Tag *t, Group *g, BitWriter *bw, uint8_t *cb,
                                  const uint8_t *cur, const uint8_t *prev, Py_ssize_t i,
                                  Py_ssize_t end, uint32_t waitmask) noexcept nogil:
    cdef State *st = &g.st
    cdef Py_ssize_t stopidx, run_index = 0, wait, n
    cdef Carry k
    reload(t, cb, &k, cur, i)
    if i == 0:
        enc_pixel(t, g, bw, cb, &k, cur, prev, 0)
        if st.waitcnt:
            st.waitcnt -= 1
        else:
            st.waitcnt = tabrand(st) & waitmask
            update_all(t, g, cb, 0)
        i = 1
    stopidx = i + st.waitcnt
    while i < end:
        if (prev != NULL and i > 2 and i != run_index and same(t, prev + 4 * (i - 1), prev + 4 * i)
                and same(t, cur + 4 * (i - 1), cur + 4 * (i - 2))):
            run_index = i
            wait = stopidx - i
            n = 0
            while i + n < end and same(t, cur + 4 * (i + n), cur + 4 * (i + n - 1)):
                n += 1
            enc_run(st, bw, n)
            i += n
            stopidx = i + wait
            reload(t, cb, &k, cur, i)
            continue
        enc_pixel(t, g, bw, cb, &k, cur, prev, i)
        if i == stopidx:
            update_all(t, g, cb, i)
            stopidx = i + 1 + <int>(tabrand(st) & waitmask)
        i += 1
    st.waitcnt = stopidx - end


cdef void enc_row(Tag *t, Group *g, BitWriter *bw, const uint8_t *cur, const uint8_t *prev,
                  int width) noexcept nogil:
    cdef State *st = &g.st
    cdef int pos = 0, c
    cdef int nch = 1 if (Tag is GrayTag or Tag is AlphaTag) else 3
    for c in range(nch):
        g.corr[c] = 0 if prev == NULL else g.corr[4 + c]
    while WMI_MAX > st.wmidx and st.wmileft <= <uint32_t>width:
        if st.wmileft:
            enc_segment(t, g, bw, cur, prev, pos, pos + st.wmileft, (1u << st.wmidx) - 1)
            width -= st.wmileft
            pos += st.wmileft
        st.wmidx += 1
        st.trigger = TRIGGER[st.wmidx]
        st.wmileft = WMI_NEXT
    if width:
        enc_segment(t, g, bw, cur, prev, pos, pos + width, (1u << st.wmidx) - 1)
        if WMI_MAX > st.wmidx:
            st.wmileft -= width


# ------------------------------------------------------------------ images


cdef void init_group(Group *g, const Family *fam, uint8_t *corr, int width) noexcept nogil:
    cdef int c, v
    memset(g, 0, sizeof(Group))
    g.st.seed = 0xFF
    g.st.wmileft = WMI_NEXT
    g.st.trigger = TRIGGER[0]
    g.st.melclen = MELC_J[0]
    for c in range(3):
        memset(g.ch[c].bestcode, fam.bpc - 1, 8)
        memset(g.ch[c].code_of, fam.bpc - 1, 256)
        for v in range(256):
            g.ch[c].lut_of[v] = fam.lut[fam.bpc - 1]
    g.corr = corr


cdef int decode_image(int itype, BitReader *br, uint8_t *out, int width, int height,
                      uint8_t *corr) noexcept nogil:
    cdef Group rgb, alpha
    cdef int y, err = 0
    cdef size_t stride = 4 * <size_t>width
    cdef uint8_t *cur
    cdef const uint8_t *prev = NULL
    init_group(&rgb, &FAM5 if itype == 2 else &FAM8, corr, width)
    init_group(&alpha, &FAM8, corr + 3, width)
    for y in range(height):
        cur = out + y * stride
        if itype == 1:
            err = dec_row(<GrayTag *>NULL, &rgb, br, cur, prev, width)
        elif itype == 2:
            err = dec_row(<Rgb16Tag *>NULL, &rgb, br, cur, prev, width)
        else:
            err = dec_row(<RgbTag *>NULL, &rgb, br, cur, prev, width)
            if not err and itype == 5:
                err = dec_row(<AlphaTag *>NULL, &alpha, br, cur, prev, width)
        if err:
            return err
        prev = cur
    return 0


cdef int encode_image(int itype, BitWriter *bw, const uint8_t *img, int width, int height,
                      uint8_t *corr) noexcept nogil:
    cdef Group rgb, alpha
    cdef int y
    cdef size_t stride = 4 * <size_t>width
    # a sample costs at most 26 bits, a run at most its length + 16 bits
    cdef size_t row_bytes = (<size_t>width * (26 * 4 + 17 * 2) + 64) // 8 + 16
    cdef const uint8_t *cur
    cdef const uint8_t *prev = NULL
    init_group(&rgb, &FAM5 if itype == 2 else &FAM8, corr, width)
    init_group(&alpha, &FAM8, corr + 3, width)
    for y in range(height):
        if not bw_reserve(bw, row_bytes):
            return ERR_NOMEM
        cur = img + y * stride
        if itype == 1:
            enc_row(<GrayTag *>NULL, &rgb, bw, cur, prev, width)
        elif itype == 2:
            enc_row(<Rgb16Tag *>NULL, &rgb, bw, cur, prev, width)
        else:
            enc_row(<RgbTag *>NULL, &rgb, bw, cur, prev, width)
            if itype == 5:
                enc_row(<AlphaTag *>NULL, &alpha, bw, cur, prev, width)
        prev = cur
    if not bw_reserve(bw, 16):
        return ERR_NOMEM
    if bw.nbits:  # flush(): pad the last word, then one zero word
        bw_put(bw, 0, 32 - bw.nbits)
    st_le32(bw.buf + bw.n, 0)
    bw.n += 4
    return 0


def decode_body(data, int start_word, int image_type, out):
    """Decode the rows after the header into ``out``; see ``_quic_ref.decode_body``.
    The stream and the pixels are read through the buffer protocol
    (``_buffers.pxi``): most images are small, and typed memoryviews cost more
    to set up than decoding one of a few dozen pixels."""
    cdef Py_buffer src, dst
    cdef int height, width, err
    cdef BitReader br
    cdef uint8_t *corr
    _byte_buffer(data, &src, PyBUF_SIMPLE)
    try:
        _byte_buffer(out, &dst, PyBUF_WRITABLE)
        try:
            if (dst.ndim != 3 or dst.shape[2] != 4 or not 1 <= image_type <= 5
                    or not 0 < dst.shape[0] <= MAX_SIDE or not 0 < dst.shape[1] <= MAX_SIDE):
                raise ValueError("bad QUIC output array or image type")
            height = <int>dst.shape[0]
            width = <int>dst.shape[1]
            corr = <uint8_t *>malloc(4 * (<size_t>width + 1))
            if corr == NULL:
                raise MemoryError()
            with nogil:
                memset(corr, 0, 4 * (<size_t>width + 1))
                br_init(&br, <const uint8_t *>src.buf if src.len else NULL, src.len,
                        start_word)
                err = decode_image(image_type, &br, <uint8_t *>dst.buf, width, height, corr)
            free(corr)
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)
    if err == ERR_RUN:
        raise CodecError("QUIC run past the end of the row")
    if err:
        raise CodecError("QUIC stream truncated")


def encode_body(int image_type, const uint8_t[:, :, ::1] pixels):
    """Code ``pixels`` as QUIC rows; see ``_quic_ref.encode_body``."""
    cdef int height = pixels.shape[0], width = pixels.shape[1], err
    cdef BitWriter bw
    if pixels.shape[2] != 4 or not 1 <= image_type <= 5 or width <= 0 or height <= 0:
        raise ValueError("bad QUIC input array or image type")
    cdef uint8_t *corr = <uint8_t *>malloc(4 * (<size_t>width + 1))
    if corr == NULL:
        raise MemoryError()
    memset(&bw, 0, sizeof(BitWriter))
    # start at about a byte per sample (noise needs that; most images far less)
    if not bw_reserve(&bw, min(<size_t>width * height * (4 if image_type == 5 else 3),
                               <size_t>1 << 24) + 4096):
        free(corr)
        raise MemoryError()
    try:
        with nogil:
            memset(corr, 0, 4 * (<size_t>width + 1))
            err = encode_image(image_type, &bw, &pixels[0, 0, 0], width, height, corr)
        if err:
            raise MemoryError()
        return bw.buf[:bw.n]
    finally:
        free(corr)
        free(bw.buf)
