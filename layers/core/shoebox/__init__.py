"""Shoebox's shared package: settings, AWS clients, image records and variants, the app factory."""
