# C-level entries of the clipped kernels for compiled callers
# (``spicepy.session._lane``): what ``blit_clipped`` / ``fill_clipped`` draw,
# with the message's values already read as C integers (no Python argument).
from libc.stdint cimport int64_t, uint32_t


cdef struct Cut:
    int64_t left, top, right, bottom


# ``box`` ∩ dst, ∩ ``clip`` when ``nclip`` is 1 (-1: no clip, 0: a clip of no
# rectangle); ``op`` a binary ROP 0..15.  Return the pixels drawn; raise
# CanvasError (a bad destination or source) before touching a pixel.
cdef int64_t blit_box(object dst, const Cut* box, int nclip, const Cut* clip,
                      object src, int64_t dx, int64_t dy, int op,
                      bint opaque) except -1
cdef int64_t fill_box(object dst, const Cut* box, int nclip, const Cut* clip,
                      int op, uint32_t color) except -1
