"""Reads for the viewer's dashboard page (role filtering through the domain apps' selectors)."""
