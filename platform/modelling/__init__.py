"""Model versions, training jobs and the predictions models write back."""
