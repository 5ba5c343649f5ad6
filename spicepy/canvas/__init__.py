"""spicepy.canvas"""
