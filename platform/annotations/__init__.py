"""Score scales and the labels people (and models) put on frames and videos."""
