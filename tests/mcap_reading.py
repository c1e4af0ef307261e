"""Reading a recording back with the mcap reader and its ROS 2 decoder, as a Foxglove user's tools would:
independent of skill_stack_apps.recording, which wrote it."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory


def read_all(path: Path) -> tuple[dict, dict[str, list], dict[str, dict[str, str]]]:
    """(topic -> schema name, topic -> [(log_time, publish_time, decoded)], metadata)"""
    messages: dict[str, list] = defaultdict(list)
    with path.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        types = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
        for _, channel, message, decoded in reader.iter_decoded_messages(log_time_order=False):
            messages[channel.topic].append((message.log_time, message.publish_time, decoded))
        meta = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    return types, messages, meta
