"""Pleura's machine-learning core: pure PyTorch, never imports Django.

Subpackages (`ml.models`, `ml.losses`, `ml.aggregation`, `ml.metrics`, `ml.data`) re-export their
public names; `ml.tasks` is the only module that touches the platform and is imported by Celery
workers alone.
"""
