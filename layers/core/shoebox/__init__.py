"""Shoebox's shared package: settings, AWS clients, the image model and service, the app factory."""
