"""Optional integrations: Hugging Face Trainer, Lightning, TensorBoard (each loads lazily)."""
