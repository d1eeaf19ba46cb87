"""Infrastructure code that runs outside Lambda: the Docker-free local stack (`infra.local`)."""
