"""Feature extraction: video/audio decoding, ResNet-152 / C3D / VGGish backbones, the feature store."""
