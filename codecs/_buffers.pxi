# Byte buffers read through the buffer protocol directly, for the per-image
# entry points of the codec fast paths: a typed memoryview costs ~4,000
# instructions to set up, more than decoding a small image (include this file;
# pair every successful get with PyBuffer_Release).

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_SIMPLE,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)


cdef int _byte_buffer(object obj, Py_buffer* view, int flags) except -1:
    """``obj`` as one C-contiguous run of bytes (bytes, a uint8 array...); with
    its shape, so a caller can check an array's dimensions."""
    PyObject_GetBuffer(obj, view, flags | PyBUF_C_CONTIGUOUS)
    if view.itemsize != 1:
        PyBuffer_Release(view)
        raise ValueError("the buffer must hold bytes (uint8)")
    return 0
