"""Reads for the viewer's review page (role filtering through the domain apps' selectors)."""
