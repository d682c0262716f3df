"""Tiny configurations of the segmenters and CNN-LSTMs: the published architectures with small widths, so
that tests train them on CPU in seconds (shared by tests/ml and tests/platform)."""

from __future__ import annotations

TINY_SEGMENTERS: dict[str, dict] = {
    "unet_roy": {"widths": [8, 16, 16], "latent_width": 16},
    "unet_plusplus": {"encoder_name": "resnet18", "encoder_depth": 3, "decoder_channels": [16, 8, 8]},
    "deeplabv3_plus": {"encoder_name": "resnet18", "decoder_channels": 16, "atrous_rates": [2, 4, 6]},
}

TINY_SEQUENCE: dict[str, dict] = {
    "xception_lstm": {"stem_channels": [4, 8], "entry_channels": [8, 16, 16], "middle_blocks": 1,
                      "exit_channels": [16, 24, 32], "lstm_hidden": 16, "dense": [16, 16]},
    "densenet_lstm": {"growth_rate": 4, "block_config": [2, 2], "num_init_features": 8, "ae_channels": [4, 8],
                      "separable_channels": [8], "fusion_dim": 16, "lstm_hidden": 16},
}
