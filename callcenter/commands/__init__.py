"""Sub-commands of `callcenter`; each module has ``register(subparsers)``."""
