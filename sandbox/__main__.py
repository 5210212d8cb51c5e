from sandbox.cli import sandbox_cli

sandbox_cli(prog_name="python -m sandbox")
