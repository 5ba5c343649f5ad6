# C-level entries of the clipped kernels for compiled callers
# (``spicepy.session._lane``): the same draws, checks and errors as
# ``blit_clipped`` / ``copy_clipped`` / ``fill_clipped``, without a Python call.
cdef object copy_clipped_c(object dst, object bbox, object clip, object src,
                           object src_area, object rop, object opaque)
cdef object blit_clipped_c(object dst, object bbox, object clip, object src,
                           object dx, object dy, object rop, object opaque)
cdef object fill_clipped_c(object dst, object bbox, object clip, object rop,
                           object color)
