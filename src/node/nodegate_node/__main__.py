"""``python -m nodegate_node``."""

from nodegate_node.server import main

main()
