"""USB devices redirected through usbredir (``spicepy.channels.usbredir``):
``hid`` (an emulated boot keyboard), ``storage`` (an emulated disk on an image
file), ``host`` (this machine's devices through pyusb) and ``filter``
(remote-viewer's redirect filter rules).  ``Session.usb`` plugs them in."""
