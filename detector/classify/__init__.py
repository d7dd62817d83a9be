"""The classification stage: ImageFolder data, the paper's training recipe, multi-crop testing."""
