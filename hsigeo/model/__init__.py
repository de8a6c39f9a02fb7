"""hsigeo model: spectral-spatial backbone, text probe, contrastive loss, training and model files."""
