"""Entry points above the three layers: the `skillstack` CLI and its subcommands, the launcher that starts
ROS 2 node processes from a launch file, and the progress display. Nothing below imports this package."""
