# The C-level hook of ``MessageReader``: a lane (``spicepy.session._lane``)
# subclasses ``Lane`` to apply some messages itself, read from their bytes,
# before any event and without decoding them.
from libc.stdint cimport uint8_t, uint64_t


cdef class Lane:
    # message numbers 0..511 the lane may take (bit n of wanted[n >> 6])
    cdef uint64_t wanted[8]
    # number -> the message class the lane reads it as (``set_wanted``)
    cdef readonly dict classes

    cdef bint wants(self, unsigned int msg_type) noexcept
    cdef int ready(self) except -1
    cdef int offer(self, unsigned int msg_type, const uint8_t* body,
                   Py_ssize_t n) except -1


# ``cls(*values)`` of a frozen slotted dataclass with its slots set in C (``build``)
cdef object build_c(type cls, tuple values)

# where a frozen or plain slotted class keeps its object slot ``name`` (or -1)
cdef Py_ssize_t slot_offset(type cls, str name) except -2
