"""spicepy.session"""
