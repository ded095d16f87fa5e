"""Generated protobuf modules for TensorFlow's checkpoint and graph messages.

Each ``tensorkeep/proto/<name>.proto`` mirrors a TensorFlow ``.proto`` file with the
same message, field and enum names and numbers, so the bytes are interchangeable
with TensorFlow's, but under proto package ``tensorkeep.tf`` and file names
``tensorkeep/proto/...``: both sets register in protobuf's default descriptor pool
without clashing, whether TensorFlow is imported before or after tensorkeep.

The ``*_pb2.py`` modules are committed; regenerate them with ``bash tools/gen_protos.sh``
(see docs/DEVELOPING.md). Import them directly, e.g.
``from tensorkeep.proto import meta_graph_pb2``; this package imports nothing itself.
"""
