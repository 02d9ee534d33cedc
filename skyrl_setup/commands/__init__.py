"""One module per command: `run(request, ui) -> Result`. No printing, no argparse, no os.environ writes,
no input(); progress and questions go through `ui` (skyrl_setup/commands/ui.py). No command module imports another."""
