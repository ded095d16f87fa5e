"""tensorkeep: TensorFlow checkpoints without TensorFlow."""
