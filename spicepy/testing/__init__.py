"""spicepy.testing"""
