"""S2VT video captioning and tagging over extracted features."""
__version__ = "0.1.0"
