"""Follow-ups that span apps, wired from the layer above them all (platform/README.md).

A lower app announces what happened (studies.signals, annotations.signals) without knowing who
listens; this app connects the receivers that call the higher apps' services."""
