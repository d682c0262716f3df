"""Reads for the viewer's worklist page (role filtering through the domain apps' selectors)."""
