"""spicepy.wire"""
