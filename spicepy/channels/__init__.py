"""spicepy.channels"""
