"""The operator console (`skillstack console`): a web page served on loopback that shows the camera, the plan
with each skill's state, progress and policy, the goals, the corrections retrieved for the running step, and
takes tasks, corrections (typed or spoken into the browser's microphone), cancels and e-stops.

model.py (what the page shows) <- backend.py (shared: text checks, the correction store, speech) <- sim.py
(the in-process stack on PyBullet) | ros.py (a client of the ROS graph; the only module here importing rclpy)
<- app.py (FastAPI: the page, the JSON API, a WebSocket) <- server.py (uvicorn). static/ is the page: plain
HTML, CSS and JS, no build step and nothing fetched from elsewhere.
"""
