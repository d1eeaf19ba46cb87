"""The Docker-free local stack: `python -m infra.local` (what `make dev` runs).

moto server holds the buckets, queues and table declared in template.yaml; a gateway serves the
template's HttpApi routes with the same JWT checks; each function runs in execution environments
of its own, each a process through AWS's Runtime Interface Client, as many at once as its load
needs (capped); workers feed the queues to the functions as Lambda's event source mappings
would. `DevStack` starts and stops all of it.
"""

from infra.local.stack import DevStack

__all__ = ["DevStack"]
