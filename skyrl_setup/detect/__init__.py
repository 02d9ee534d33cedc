"""Detection: what this host has (Python interpreters, NVIDIA driver and GPUs, disk).

Every function here reads the machine and returns a frozen value; none raises for an
absent component, since "no GPU" and "no pyenv" are ordinary answers.
"""
