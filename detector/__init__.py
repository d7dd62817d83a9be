"""The R-CNN-style detector around the GoogLeNet backbone: config, checkpoints, data, proposals,
region classification, ensembles and evaluation."""
