"""Reads for the viewer's annotate page (role filtering through the domain apps' selectors)."""
