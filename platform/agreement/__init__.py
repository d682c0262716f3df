"""Inter-annotator agreement reports."""
