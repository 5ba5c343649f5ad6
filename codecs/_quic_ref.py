"""QUIC reference twin: a pure-Python decoder and encoder that read like the format.

QUIC (spice-common ``common/quic.c``, ``quic_tmpl.c``, ``quic_family_tmpl.c``;
PROTOCOL.md section 10) is SFALIC: per channel, predict each sample from its
neighbours, fold the residual to an unsigned value, and code it with one of a
family of length-limited Golomb-Rice codes. The code is chosen by a context
model: the previous folded residual of the same channel selects a *bucket*
whose counters track how long each code would have been; the shortest wins.

Model updates happen only at positions drawn from a fixed "chaos" table (the
*wait mask* schedule), and rows after the first have a run mode whose lengths
are MELCODE-coded. Both must be replicated exactly for the bits to line up.

The bit stream is 32-bit little-endian words read MSB first. This module
codes the body that follows the 5-word header (``quic.py`` handles that).
Samples live in ``(h, w, 4)`` uint8 arrays with B, G, R at bytes 0, 1, 2 and
alpha at 3; GRAY uses byte 0, RGB16 holds 5-bit values. Coding order per row:
R, G, B interleaved per pixel, then (RGBA) the alpha row with its own state.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from spicepy.codecs._common import CodecError

U8 = npt.NDArray[np.uint8]

# Defaults of quic.c: evolution 3, codeword limit 26, wait mask index grows by
# one every 2048 samples up to 6.
MAXCLEN = 26
WMI_MAX = 6
WMI_NEXT = 2048
# besttrigtab[DEFevol / 2]: counter level that halves a bucket, per wait mask index.
BEST_TRIGGER = (110, 550, 900, 800, 550, 400, 350, 250, 140, 160, 140)
# MELCODE: run length exponent per state (32 states).
# fmt: off
MELC_J = (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7,
          8, 9, 10, 11, 12, 13, 14, 15)
MELC_STATES = 32
# tabrand_chaos: the pseudo-random wait counts (only the low 6 bits ever matter,
# the wait mask is at most 0x3f). The seed starts at 0xff and is pre-incremented.
TABRAND_CHAOS = (
    0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052,
    0x57329b28, 0x2993868e, 0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac,
    0x1b671264, 0x9d433486, 0x62a4c192, 0x06089a4b, 0x9e3dce44, 0xdaabee13,
    0x222425ea, 0xa46f331d, 0xcd589250, 0x8bb81d7f, 0xc8b736b9, 0x35948d33,
    0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e, 0x7a37820f, 0x39f88e9e,
    0xedd58794, 0xc5076689, 0xfcada5a4, 0x64c2f46d, 0xb3ba3243, 0x8974b4f9,
    0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45, 0x600bde29, 0xf3971ace,
    0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3,
    0xc1a78327, 0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136,
    0xf1840e7e, 0x6a6048c1, 0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d,
    0x8cc26e74, 0x11a525a2, 0x946934c7, 0x7cd888f0, 0x8f9d8604, 0x4f86e73b,
    0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288, 0xf540c5b2, 0x22401484,
    0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b, 0xf0fedbee,
    0x92826ddf, 0x284bec73, 0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b,
    0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76, 0xfc6fac0a, 0xce927e9b,
    0x00bf2567, 0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2,
    0x789d52ec, 0x3f3fbf40, 0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0,
    0xb7e8d590, 0xbe807feb, 0xbf5f8360, 0xd99e2f5c, 0x372928e1, 0x7c757c4c,
    0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be, 0xb4805c77, 0x00c880fa,
    0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026, 0xb260969d,
    0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf,
    0x29f8c9fb, 0x53dd6880, 0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119,
    0x11cca12e, 0xfe6b6766, 0x16b6effc, 0x97918fc4, 0xc2b8a563, 0x94f2f741,
    0x0bfa8c9a, 0xd1537ae8, 0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e,
    0xbc8abbd9, 0xe1eab1d2, 0x6dac9070, 0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b,
    0xd161043e, 0x5d2fa2e2, 0xff5d3cae, 0x86ed9f87, 0x2aa1daa1, 0xbd731a34,
    0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d, 0xccb01948, 0x8d168df7,
    0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
    0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098,
    0xce81675a, 0x4b372f7d, 0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6,
    0x4cd07282, 0x349eeb06, 0x0c9d5332, 0x520b24ef, 0x80020447, 0x67976491,
    0x2f931ca3, 0xfe9b0535, 0xfcd30220, 0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1,
    0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7, 0x58b53bb3, 0x9d5e0b2d,
    0x624a78b4, 0x30dbee1b, 0x9bdf22e7, 0x1df5c299, 0x2d5643a7, 0xf4dd35ff,
    0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4, 0x49e54438, 0x2f2577e6,
    0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358,
    0x6ef2cdda, 0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65,
    0xe0893818, 0x9e00a16a, 0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e,
    0xd706805f, 0x6bfbb7cf, 0xd9210a10, 0x31a1db97, 0x923a9559, 0x37a7a1f6,
    0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd, 0xab85ff9f, 0x9331aff2,
    0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f, 0x432ef649,
    0xdc0a36c0, 0x61cf2bba, 0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d,
    0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5,)
# fmt: on

# image type -> (bits per channel, channels in the colour group, has alpha)
TYPE_PARAMS = {
    1: (8, 1, False),
    2: (5, 3, False),
    3: (8, 3, False),
    4: (8, 3, False),
    5: (8, 3, True),
}
# Byte offset in a B,G,R,X pixel of each coded channel, in coding order (r, g, b).
RGB_OFFSETS = (2, 1, 0)


def _ceil_log2(v: int) -> int:
    return 0 if v <= 1 else (v - 1).bit_length()


class Family:
    """The Golomb-Rice code family and residual folding tables for one depth.

    Code ``k`` sends ``n < ngr[k]`` as ``n >> k`` zeros, a one, then the low ``k``
    bits; larger values as ``prefix[k]`` zeros then ``n - ngr[k]`` in
    ``suffix[k]`` bits (family_init), so no codeword exceeds MAXCLEN bits.
    """

    def __init__(self, bpc: int) -> None:
        self.bpc = bpc
        self.mask = (1 << bpc) - 1
        self.ngr: list[int] = []
        self.suffix: list[int] = []
        self.notgr_len: list[int] = []
        self.prefix_mask: list[int] = []
        for k in range(bpc):
            prefix = min(MAXCLEN - bpc, (1 << (bpc - k)) - 1)
            self.ngr.append(prefix << k)
            self.suffix.append(_ceil_log2(self.mask + 1 - (prefix << k)))
            self.notgr_len.append(prefix + self.suffix[k])
            # a window above this mask has a one among its first `prefix` bits: GR code
            self.prefix_mask.append((1 << (32 - prefix)) - 1)
        # code_len[n][k] for every byte value (decoded 5-bit residuals can exceed 31)
        self.code_len = [[self._code(n, k)[1] for k in range(bpc)] for n in range(256)]
        # fold residual r (mod 2^bpc) to 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
        half = self.mask >> 1
        self.u2l = [
            (s << 1) if s <= half else ((self.mask - s) << 1) + 1
            for s in range(self.mask + 1)
        ]
        # unfold; entries past 2^bpc stay 0 as in quic.c's static table
        self.l2u = [0] * 256
        for s in range(self.mask + 1):
            self.l2u[s] = self.mask - (s >> 1) if s & 1 else s >> 1
        # bucket of each context value: widths 1, 2, 4, ... the last one absorbing
        # whatever would be smaller than the next (find_model_params, evol 3)
        self.bucket_of = [0] * (self.mask + 1)
        start, size, nb = 0, 1, 0
        while True:
            end = start + size - 1
            if end + size > self.mask:  # a next bucket of this size would not fit
                end = self.mask
            for v in range(start, end + 1):
                self.bucket_of[v] = nb
            nb += 1
            if end == self.mask:
                break
            start, size = end + 1, size * 2
        self.nbuckets = nb

    def _code(self, n: int, k: int) -> tuple[int, int]:
        """(codeword, length) of value n in code k (golomb_coding_slow)."""
        if n < self.ngr[k]:
            return (1 << k) | (n & ((1 << k) - 1)), (n >> k) + k + 1
        return n - self.ngr[k], self.notgr_len[k]


FAMILY = {8: Family(8), 5: Family(5)}


class State:
    """CommonState: the wait-mask schedule and the MELCODE run state of a group."""

    def __init__(self) -> None:
        self.waitcnt = 0
        self.seed = 0xFF
        self.wmidx = 0
        self.wmileft = WMI_NEXT
        self.trigger = BEST_TRIGGER[0]
        self.melcstate = 0
        self.melclen = MELC_J[0]

    def tabrand(self) -> int:
        self.seed = (self.seed + 1) & 0xFF
        return TABRAND_CHAOS[self.seed]

    def melc_up(self) -> None:
        if self.melcstate < MELC_STATES - 1:
            self.melcstate += 1
            self.melclen = MELC_J[self.melcstate]

    def melc_down(self) -> None:
        if self.melcstate:
            self.melcstate -= 1
            self.melclen = MELC_J[self.melcstate]


class Channel:
    """One channel's model: bucket counters, best codes and the residual row.

    ``corr[i + 1]`` is the folded residual at column i; ``corr[0]`` is column -1,
    the context of column 0 (0 on the first row, else the row above's column 0).
    Columns skipped by runs keep older rows' residuals, which later serve as
    contexts: part of the format.
    """

    def __init__(self, fam: Family, width: int) -> None:
        self.fam = fam
        self.counters = [[0] * 8 for _ in range(fam.nbuckets)]
        self.bestcode = [fam.bpc - 1] * fam.nbuckets
        self.corr = [0] * (width + 1)

    def code_for(self, i: int) -> int:
        """Golomb code chosen by the context at column i (the residual at i - 1)."""
        return self.bestcode[self.fam.bucket_of[self.corr[i] & self.fam.mask]]

    def update(self, i: int, trigger: int) -> None:
        """update_model: charge each code with the length it would have needed."""
        b = self.fam.bucket_of[self.corr[i] & self.fam.mask]
        counters = self.counters[b]
        lens = self.fam.code_len[self.corr[i + 1]]
        best = self.fam.bpc - 1
        counters[best] += lens[best]
        best_len = counters[best]
        for k in range(self.fam.bpc - 2, -1, -1):  # ties keep the larger code
            counters[k] += lens[k]
            if counters[k] < best_len:
                best, best_len = k, counters[k]
        self.bestcode[b] = best
        if best_len > trigger:
            for k in range(self.fam.bpc):
                counters[k] >>= 1


class Reader:
    """MSB-first bits of little-endian 32-bit words; zero bits past the end, but
    consuming any of them is an error."""

    def __init__(self, data: bytes | memoryview, start_word: int) -> None:
        n = len(data) // 4
        self.words: list[int] = np.frombuffer(data, "<u4", n).tolist() + [0, 0]
        self.pos = 32 * start_word
        self.total = 32 * n

    def peek32(self) -> int:
        k, o = self.pos >> 5, self.pos & 31
        return ((self.words[k] << 32 | self.words[k + 1]) >> (32 - o)) & 0xFFFFFFFF

    def eat(self, n: int) -> None:
        self.pos += n
        if self.pos > self.total:
            raise CodecError("QUIC stream truncated")

    def golomb(self, fam: Family, k: int) -> int:
        """golomb_decoding: a value of code k (kept to a byte, as quic.c keeps it)."""
        bits = self.peek32()
        if bits > fam.prefix_mask[k]:
            zeros = 32 - bits.bit_length()
            n = zeros + 1 + k
            value = (zeros << k) | ((bits >> (32 - n)) & ((1 << k) - 1))
        else:
            n = fam.notgr_len[k]
            value = fam.ngr[k] + ((bits >> (32 - n)) & ((1 << fam.suffix[k]) - 1))
        self.eat(n)
        return value & 0xFF

    def run(self, st: State, limit: int) -> int:
        """decode_state_run: MELCODE hits (ones), a zero, then melclen bits."""
        run = 0
        while self.peek32() >> 31:
            self.eat(1)
            run += 1 << st.melclen
            st.melc_up()
            if run > limit:
                raise CodecError("QUIC run past the end of the row")
        self.eat(1)
        if st.melclen:
            run += self.peek32() >> (32 - st.melclen)
            self.eat(st.melclen)
        st.melc_down()
        if run > limit:
            raise CodecError("QUIC run past the end of the row")
        return run


class Writer:
    """The encoder's bit sink; ``finish`` pads like quic.c's flush()."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self.acc = 0
        self.nbits = 0

    def put(self, value: int, n: int) -> None:
        self.acc = (self.acc << n) | value
        self.nbits += n
        while self.nbits >= 32:
            self.nbits -= 32
            self.words.append((self.acc >> self.nbits) & 0xFFFFFFFF)
        self.acc &= (1 << self.nbits) - 1

    def golomb(self, fam: Family, n: int, k: int) -> None:
        self.put(*fam._code(n, k))

    def run(self, st: State, run: int) -> None:
        """encode_state_run."""
        while run >= 1 << st.melclen:
            run -= 1 << st.melclen
            self.put(1, 1)
            st.melc_up()
        self.put(run, st.melclen + 1)
        st.melc_down()

    def finish(self) -> bytes:
        if self.nbits:
            self.put(0, 32 - self.nbits)
        self.words.append(0)  # flush() always ends with one zero word
        return np.asarray(self.words, "<u4").tobytes()


class Group:
    """Channels coded together with one shared State: R, G, B (or GRAY), or alpha."""

    def __init__(self, bpc: int, offsets: tuple[int, ...], width: int) -> None:
        self.fam = FAMILY[bpc]
        self.state = State()
        self.offsets = offsets
        self.chans = [Channel(self.fam, width) for _ in offsets]

    def code_row(
        self, io: Reader | Writer, cur: list[list[int]], prev: list[list[int]] | None
    ) -> None:
        """One row (compress_row / uncompress_row): split at wait-mask index steps."""
        st = self.state
        for ch in self.chans:
            ch.corr[0] = 0 if prev is None else ch.corr[1]
        pos, left = 0, len(cur[0])
        while WMI_MAX > st.wmidx and st.wmileft <= left:
            if st.wmileft:
                self._segment(io, cur, prev, pos, pos + st.wmileft, (1 << st.wmidx) - 1)
                left -= st.wmileft
                pos += st.wmileft
            st.wmidx += 1
            st.trigger = BEST_TRIGGER[st.wmidx]
            st.wmileft = WMI_NEXT
        if left:
            self._segment(io, cur, prev, pos, pos + left, (1 << st.wmidx) - 1)
            if WMI_MAX > st.wmidx:
                st.wmileft -= left

    def _segment(
        self,
        io: Reader | Writer,
        cur: list[list[int]],
        prev: list[list[int]] | None,
        i: int,
        end: int,
        waitmask: int,
    ) -> None:
        """Columns [i, end) with one wait mask: the model is updated at column
        ``stopidx``, then the next stop is drawn from the chaos table."""
        st = self.state
        if i == 0:
            self._pixel(io, cur, prev, 0)
            if st.waitcnt:
                st.waitcnt -= 1
            else:
                st.waitcnt = st.tabrand() & waitmask
                self._update(0)
            i = 1
        stopidx = i + st.waitcnt
        run_index = 0
        while i < end:
            if (
                prev is not None
                and i > 2
                and i != run_index
                and _same(prev, i - 1, i)
                and _same(cur, i - 1, i - 2)
            ):
                # run mode; the columns it covers don't count towards the wait
                run_index = i
                wait = stopidx - i
                if isinstance(io, Reader):
                    n = io.run(st, end - i)
                    for c in cur:
                        c[i : i + n] = [c[i - 1]] * n
                else:
                    n = 0
                    while i + n < end and _same(cur, i + n, i + n - 1):
                        n += 1
                    io.run(st, n)
                i += n
                stopidx = i + wait
                continue
            self._pixel(io, cur, prev, i)
            if i == stopidx:
                self._update(i)
                stopidx = i + 1 + (st.tabrand() & waitmask)
            i += 1
        st.waitcnt = stopidx - end

    def _pixel(
        self,
        io: Reader | Writer,
        cur: list[list[int]],
        prev: list[list[int]] | None,
        i: int,
    ) -> None:
        """Code column i of every channel: predict, then fold / unfold the residual."""
        fam = self.fam
        for c, (ch, row) in enumerate(zip(self.chans, cur, strict=True)):
            if prev is None:  # first row: the left neighbour (nothing at column 0)
                pred = row[i - 1] if i else 0
            else:  # above at column 0, else the floor mean of left and above
                above = prev[c][i]
                pred = (row[i - 1] + above) >> 1 if i else above
            k = ch.code_for(i)
            if isinstance(io, Reader):
                u = io.golomb(fam, k)
                ch.corr[i + 1] = u
                row[i] = (fam.l2u[u] + pred) & fam.mask
            else:
                u = fam.u2l[(row[i] - pred) & fam.mask]
                ch.corr[i + 1] = u
                io.golomb(fam, u, k)

    def _update(self, i: int) -> None:
        for ch in self.chans:
            ch.update(i, self.state.trigger)


def _same(rows: list[list[int]], a: int, b: int) -> bool:
    return all(r[a] == r[b] for r in rows)


def _groups(image_type: int, width: int) -> list[Group]:
    bpc, n, alpha = TYPE_PARAMS[image_type]
    groups = [Group(bpc, RGB_OFFSETS if n == 3 else (0,), width)]
    if alpha:
        groups.append(Group(8, (3,), width))
    return groups


def decode_body(
    data: bytes | memoryview, start_word: int, image_type: int, out: U8
) -> None:
    """Decode the coded rows that start at word ``start_word`` into ``out``
    (``(h, w, 4)`` uint8) as B,G,R,X / B,G,R,A pixels: X = 0, GRAY copied to
    B, G and R, RGB16's 5-bit samples widened to ``(v << 3) | (v >> 2)``.

    Raises:
        CodecError: the stream ends early or a run passes the row end.
    """
    height, width = out.shape[:2]
    io = Reader(data, start_word)
    groups = _groups(image_type, width)
    prevs: list[list[list[int]] | None] = [None] * len(groups)
    for y in range(height):
        for k, g in enumerate(groups):
            cur = [[0] * width for _ in g.offsets]
            g.code_row(io, cur, prevs[k])
            for off, row in zip(g.offsets, cur, strict=True):
                out[y, :, off] = row
            prevs[k] = cur
    if image_type == 2:  # RGB16 to 32 bits as quic_rgb16_to_32 does
        out[:, :, :3] = (out[:, :, :3] << 3) | (out[:, :, :3] >> 2)
    elif image_type == 1:
        out[:, :, 1] = out[:, :, 2] = out[:, :, 0]
    if image_type != 5:
        out[:, :, 3] = 0


def encode_body(image_type: int, pixels: U8) -> bytes:
    """Code ``pixels`` (``(h, w, 4)`` uint8, B,G,R,X/A) as QUIC rows: GRAY codes
    byte 0, RGB16 the top 5 bits of B, G, R."""
    height, width = pixels.shape[:2]
    io = Writer()
    groups = _groups(image_type, width)
    if image_type == 2:  # RGB16 codes the top 5 bits of each 8-bit sample
        pixels = np.right_shift(pixels, 3, dtype=np.uint8)
    planes = [[pixels[:, :, off].tolist() for off in g.offsets] for g in groups]
    for y in range(height):
        for k, g in enumerate(groups):
            g.code_row(
                io,
                [p[y] for p in planes[k]],
                [p[y - 1] for p in planes[k]] if y else None,
            )
    return io.finish()
