"""Emulated USB devices redirected through usbredir (spicepy.channels.usbredir)."""
