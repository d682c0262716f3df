"""Dataset exchange: export any filtered selection of labels in the formats researchers use, and import
labels from them.

``exchange.formats`` is the Django-free format layer (writers stream bytes chunks from plain dict rows;
readers parse files into plain records); the app's views and services run the queries around it.
"""
