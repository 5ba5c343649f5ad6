"""spicepy.codecs: every SPICE image codec, as a library of its own.

One public module per codec, all with the same shape::

    decode(data, /, *, <codec keywords>, out=None, max_pixels=...) -> ndarray
    info(data, /) -> ImageInfo                 # the header, without decoding
    encode(image, /, *, image_type=..., ...) -> bytes   # quic, lz, glz (+ tests)

``decode`` returns a C-contiguous ``uint8`` array of shape ``(height, width, 4)``
in the canvas byte order B, G, R, X (or B, G, R, A for formats with alpha),
top-down. For formats without alpha the X byte is 0 (``HIGH_BITS_SET`` is the
caller's business). Modules: ``quic``, ``lz`` (LZ_RGB and LZ_PLT), ``glz`` (with
``glz.Dictionary``), ``zlib_glz``, ``lz4``, ``jpeg``, ``jpeg_alpha``; and
``decode_image`` dispatches on the SPICE image type.

Each codec with a Cython fast path exports ``FAST: bool``; set
``SPICEPY_PUREPYTHON=1`` to force the pure-Python reference twins.

Bad data raises :class:`CodecError` (a :class:`spicepy.errors.SpiceError`).
"""

from spicepy.codecs._common import MAX_IMAGE_PIXELS, CodecError, ImageInfo
from spicepy.codecs.image import DecodedImage, SpiceImageType, decode_image

__all__ = [
    "CodecError",
    "DecodedImage",
    "ImageInfo",
    "MAX_IMAGE_PIXELS",
    "SpiceImageType",
    "decode_image",
]
