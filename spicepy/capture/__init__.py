"""spicepy.capture"""
