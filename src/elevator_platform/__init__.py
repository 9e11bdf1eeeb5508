"Non-ORM code of the Putian elevator platform: CLI, bridge, simulator, renderers."
