"""Facts about the board edgenet runs on, in one place:

- ``identity``  what board this is (device-tree model, Raspberry Pi / Jetson / other, CPU name)
- ``thermal``   temperatures, frequencies, governor, ``vcgencmd get_throttled``, ``nvpmodel -q``
- ``manifest``  the environment manifest stored with every run, eval and profile
- ``camera``    what ``--camera N`` means here and the mode a CSI camera is asked for
- ``releases``, ``install``, ``install_flow``  the board command's releases (deploys land here; standard
  library only, run by ``python3 -m edgenet.cli.release`` before any venv exists)

Everything reads files the kernel exposes or runs the board's own tools, with paths and commands
injectable so tests run against fake trees.
"""

from edgenet.board.identity import board_kind, board_model, cpu_name, is_jetson, is_raspberry_pi, read_text

__all__ = ["board_kind", "board_model", "cpu_name", "is_jetson", "is_raspberry_pi", "read_text"]
