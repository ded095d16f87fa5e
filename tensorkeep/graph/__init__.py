"""The TF1 define-then-run runtime over numpy.

Modules: ``ops`` (Graph, Operation, Tensor), ``op_defs`` (OpDef table),
``op_def_library`` (typed node building), ``shape_fns``, ``constant_op``,
``math_ops``, ``array_ops``, ``random_ops``, ``control_flow_ops``,
``variables``, ``variable_scope``, ``init_ops``, ``session``, ``kernels/``,
``meta_graph`` (export/import), ``importer`` (import_graph_def); ``saver`` is
the Saver. Importing the package loads nothing heavy: names are imported from
their modules.
"""
