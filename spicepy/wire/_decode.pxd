# The C-level hook of ``MessageReader``: a lane (``spicepy.session._lane``)
# subclasses ``Lane`` to apply some decoded messages itself, before their event.
from libc.stdint cimport uint64_t


cdef class Lane:
    # message numbers 0..511 the lane may take (bit n of wanted[n >> 6])
    cdef uint64_t wanted[8]

    cdef bint wants(self, unsigned int msg_type) noexcept
    cdef int ready(self) except -1
    cdef int offer(self, unsigned int msg_type, object msg) except -1
