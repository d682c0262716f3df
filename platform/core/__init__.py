"""Platform-wide building blocks every app may import: the application error family and the score scale.

The lowest layer: imports no app (see platform/README.md)."""
