"""MCAP recordings of runs, with ROS 2 message encodings, for Foxglove (issue #17).

- `writer.Recorder`: the file and its typed API (joint states, commands, camera, objects, status, events).
- `session.RunRecording`: an in-process run (`skillstack run --record`, the console): arm, events, status.
- `node` (rclpy): `skillstack record`, the same topics from a running ROS graph.
- `runs`: the recordings under a folder (`skillstack runs`); `timeline`: one run's PNG (`skillstack report`).
"""
# Submodules are imported where used: `skillstack --help` and `skillstack runs` stay light.
