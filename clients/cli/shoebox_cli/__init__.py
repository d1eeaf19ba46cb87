"""The `shoebox` command: upload, list, show, fetch and delete images through the Shoebox API."""
