"""One measurement in a fresh process: ``worker.py SYSTEM WORKLOAD OP DIR [--quick]``.

Prints one JSON line: seconds (the timed call only), bytes, peak RSS during the
call, RSS before it, and extras. Setup (imports, data generation, graph
building) is untimed. Before the timed call the worker flushes dirty pages
(``os.sync``) so the page cache is warm and clean, and touches then frees a
block of memory (see ``_warm``); the peak-RSS counter is reset just before the
call (``/proc/self/clear_refs``), so ``peak_rss`` is the peak of the call itself
on top of what the process already held.

Systems: ``tensorkeep`` (fsync off), ``tensorkeep_durable`` (fsync on, the
default), ``tf1`` (tf.compat.v1 Saver over graph variables, built beforehand),
``tf2`` (tf.train.Checkpoint), ``safetensors`` (numpy API), ``torch``
(torch.save / torch.load), ``npz`` (np.savez / np.load), ``floor`` (raw
syscalls: the machine limits), ``floor_durable`` (raw writes + fsync),
``tkf1`` (tensorkeep's TF1 facade, if present).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import workloads  # noqa: E402

_SMALL = 1 << 20


# -- measurement helpers ------------------------------------------------------------

def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _warm(nbytes: int) -> None:
    """Touch and free ``nbytes`` of memory right before the timed call.

    On these VMs memory the guest freed a few seconds ago is handed back to the
    host, and touching it again costs ~2.5 s/GiB; touching a block first makes
    the timed call's allocations (and the page cache's) land on backed memory,
    as they would on a machine that is not a VM. Same treatment for every system.
    """
    if nbytes <= 0:
        return
    block = np.empty(nbytes, dtype=np.uint8)
    block[::4096] = 1
    del block


def timed(fn, warm_bytes: int):  # type: ignore[no-untyped-def]
    os.sync()
    _warm(warm_bytes)
    _reset_peak()
    base = _rss()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    return seconds, _peak(), base, result


# -- systems ------------------------------------------------------------------------

def _tk_save(data, d, fsync):  # type: ignore[no-untyped-def]
    import tensorkeep as tk

    prefix = os.path.join(d, "ckpt")
    save = tk.save          # resolve the lazy name (imports tensorkeep.api) before timing
    return lambda: save(data, prefix, fsync=fsync)


def _tk_restore(d):  # type: ignore[no-untyped-def]
    """The library's full load: every tensor read and its CRC-32C verified (each byte
    is read by the checksum), returned as read-only arrays over the mapped file."""
    import tensorkeep as tk

    prefix = os.path.join(d, "ckpt")
    load = tk.load
    return lambda: dict(load(prefix))


def _tk_restore_copy(d):  # type: ignore[no-untyped-def]
    """Every tensor read (verified) into a fresh array of the process's own memory."""
    import tensorkeep as tk

    prefix = os.path.join(d, "ckpt")
    load = tk.load

    def run():  # type: ignore[no-untyped-def]
        ck = load(prefix)
        out = {}
        for name in ck:
            dt = ck.dtype(name)
            if dt.name == "string":
                out[name] = ck[name]
            else:
                a = np.empty(ck.shape(name), dtype=dt.numpy)
                ck.read_into(name, a)
                out[name] = a
        return out
    return run


def _tk_restore_into(d, data):  # type: ignore[no-untyped-def]
    import tensorkeep as tk

    prefix = os.path.join(d, "ckpt")
    dest = {k: (np.ones_like(v) if v.dtype != object else np.empty_like(v)) for k, v in data.items()}

    load = tk.load

    def run():  # type: ignore[no-untyped-def]
        load(prefix, into=dest)          # in place: straight from the file into the arrays
        return dest
    return run


def _tf_dtype(tf, a):  # type: ignore[no-untyped-def]
    return tf.string if a.dtype == object else tf.as_dtype(a.dtype)


def _tf1_graph(tf, data, with_assign):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    g = tf.Graph()
    with g.as_default():
        variables = {}
        assigns, feeds = [], {}
        for name, a in data.items():
            dt = _tf_dtype(tf, a)
            init = tf.fill(a.shape, b"") if dt == tf.string else tf.zeros(a.shape, dt)
            v = tf.compat.v1.Variable(init, name=name, trainable=False)
            variables[name] = v
            if with_assign:
                ph = tf.compat.v1.placeholder(dt, a.shape)
                assigns.append(v.assign(ph).op)
                feeds[ph] = a
        t1 = time.perf_counter()
        saver = tf.compat.v1.train.Saver(var_list=variables)
        t2 = time.perf_counter()
        init_op = tf.compat.v1.global_variables_initializer()
        group = tf.group(*assigns) if with_assign else None
    sess = tf.compat.v1.Session(graph=g)
    sess.run(init_op)
    if with_assign:
        sess.run(group, feed_dict=feeds)
    return sess, saver, {"build_variables_s": t1 - t0, "build_saver_s": t2 - t1}


def _tf1(data, d, op):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    prefix = os.path.join(d, "ckpt")
    sess, saver, extra = _tf1_graph(tf, data, with_assign=(op == "save"))
    if op == "save":
        return (lambda: saver.save(sess, prefix, write_meta_graph=False, write_state=False)), extra
    return (lambda: saver.restore(sess, prefix)), extra


def _tf2_names(data):  # type: ignore[no-untyped-def]
    return {name.replace("/", "__"): name for name in data}


def _tf2(data, d, op):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    prefix = os.path.join(d, "ckpt")
    names = _tf2_names(data)
    if op == "save":
        variables = {k: tf.Variable(data[n], trainable=False) for k, n in names.items()}
    else:
        variables = {}
        for k, n in names.items():
            a = data[n]
            dt = _tf_dtype(tf, a)
            init = tf.fill(a.shape, b"") if dt == tf.string else tf.zeros(a.shape, dt)
            variables[k] = tf.Variable(init, trainable=False)
    ckpt = tf.train.Checkpoint(**variables)
    if op == "save":
        return (lambda: ckpt.write(prefix)), {}
    return (lambda: ckpt.read(prefix)), {}


def _torch_value(torch, a):  # type: ignore[no-untyped-def]
    if a.dtype == object:
        return [bytes(x) for x in a.reshape(-1)]
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _torch(data, d, op):  # type: ignore[no-untyped-def]
    import torch

    path = os.path.join(d, "model.pt")
    if op == "save":
        tensors = {k: _torch_value(torch, v) for k, v in data.items()}
        return (lambda: torch.save(tensors, path)), {}
    # strings (W3) are pickled bytes, which torch's default weights_only loader refuses
    strings = any(v.dtype == object for v in data.values())
    return (lambda: torch.load(path, weights_only=not strings)), {}


def _safetensors(data, d, op):  # type: ignore[no-untyped-def]
    from safetensors.numpy import load_file, save_file

    path = os.path.join(d, "model.safetensors")
    if op == "save":
        return (lambda: save_file(data, path)), {}
    return (lambda: load_file(path)), {}


def _npz(data, d, op):  # type: ignore[no-untyped-def]
    path = os.path.join(d, "arrays.npz")
    if op == "save":
        return (lambda: np.savez(path, **data)), {}

    def run():  # type: ignore[no-untyped-def]
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    return run, {}


def _floor(data, d, op, durable):  # type: ignore[no-untyped-def]
    """Raw syscalls over the same buffers: the limits tensorkeep is held to."""
    import crc32c

    from tensorkeep.io.files import PREALLOCATE_BYTES, _fallocate

    path = os.path.join(d, "floor.bin")
    arrays = [a for a in data.values() if a.dtype != object]
    views = [memoryview(a.reshape(-1).view(np.uint8)) for a in arrays]

    def write_all(fd: int, v: memoryview, offset: int) -> None:
        # the best plain way to write a large buffer: allocate its blocks, then write
        if _fallocate is not None and len(v) >= PREALLOCATE_BYTES:
            _fallocate(fd, 0, offset, len(v))
        done = 0
        while done < len(v):
            done += os.write(fd, v[done:])

    if op == "save":
        def run():  # type: ignore[no-untyped-def]
            # write every buffer; CRC of large ones runs in a thread meanwhile
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            crcs = []
            offset = 0
            for v in views:
                if len(v) >= _SMALL:
                    box = []
                    t = threading.Thread(target=lambda v=v: box.append(crc32c.crc32c(v)))
                    t.start()
                    write_all(fd, v, offset)
                    t.join()
                    crcs.append(box[0])
                else:
                    crcs.append(crc32c.crc32c(v))
                    os.write(fd, v)
                offset += len(v)
            if durable:
                os.fsync(fd)
            os.close(fd)
            if durable:
                dfd = os.open(d, os.O_RDONLY)
                os.fsync(dfd)
                os.close(dfd)
            return crcs
        return run, {}
    if op == "write_only":
        def run():  # type: ignore[no-untyped-def]
            fd = os.open(path + ".w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            offset = 0
            for v in views:
                write_all(fd, v, offset)
                offset += len(v)
            os.close(fd)
        return run, {}
    if op in ("restore", "restore_into"):
        dest = [np.ones_like(a) for a in arrays] if op == "restore_into" else None

        def run():  # type: ignore[no-untyped-def]
            fd = os.open(path, os.O_RDONLY)
            offset = 0
            out = []
            for i, a in enumerate(arrays):
                b = dest[i] if dest is not None else np.empty(a.shape, a.dtype)
                v = memoryview(b.reshape(-1).view(np.uint8))
                done = 0
                while done < len(v):
                    done += os.preadv(fd, [v[done:]], offset + done)
                offset += len(v)
                crc32c.crc32c(v)
                out.append(b)
            os.close(fd)
            return out
        return run, {}
    if op == "restore_mapped":
        # the like-for-like floor of a lazy load: map the file, checksum every
        # tensor's bytes, return arrays over the map
        import mmap

        def run():  # type: ignore[no-untyped-def]
            fd = os.open(path, os.O_RDONLY)
            try:
                view = memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
            finally:
                os.close(fd)
            offset = 0
            out = []
            for a in arrays:
                part = view[offset:offset + a.nbytes]
                crc32c.crc32c(part)
                out.append(np.frombuffer(part, a.dtype).reshape(a.shape))
                offset += a.nbytes
            return out
        return run, {}
    if op == "memcpy":
        def run():  # type: ignore[no-untyped-def]
            return [a.copy() for a in arrays]
        return run, {}
    if op == "crc":
        def run():  # type: ignore[no-untyped-def]
            return [crc32c.crc32c(v) for v in views]
        return run, {}
    raise ValueError(op)


def _tkf1(data, d, op):  # type: ignore[no-untyped-def]
    import tensorkeep as tf

    # resolve the lazy names (imports the graph runtime) before timing, as for every
    # other system; that import is reported on its own
    t_import = time.perf_counter()
    tf.Graph, tf.Variable, tf.train.Saver, tf.global_variables_initializer, tf.Session
    import_s = time.perf_counter() - t_import
    prefix = os.path.join(d, "ckpt")
    t0 = time.perf_counter()
    g = tf.Graph()
    with g.as_default():
        variables = {}
        for name, a in data.items():
            variables[name] = tf.Variable(a if op == "save" else np.zeros_like(a), name=name)
        t1 = time.perf_counter()
        saver = tf.train.Saver(var_list=variables)
        t2 = time.perf_counter()
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    extra = {"build_variables_s": t1 - t0, "build_saver_s": t2 - t1, "import_s": import_s}
    if op == "save":
        return (lambda: saver.save(sess, prefix, write_meta_graph=False, write_state=False)), extra
    return (lambda: saver.restore(sess, prefix)), extra


def main(argv: list[str]) -> None:
    system, workload, op, d = argv[:4]
    quick = "--quick" in argv
    prints = None
    if workload.startswith("S") and op in ("restore", "restore_copy", "restore_mapped"):
        # The size-flatness restores hold no copy of the data (only fingerprints and
        # untouched templates), so an 8 GiB checkpoint's page cache fits beside them.
        prints, data, nbytes = workloads.expected(workload, quick)
    else:
        data = workloads.make(workload, quick)
        nbytes = workloads.nbytes(data)
    # at most 10 GiB: an 8 GiB save holds its data, the warm-up, then its page cache
    warm = min(2 * nbytes + (256 << 20), 10 << 30) if nbytes >= (64 << 20) else 0
    extra: dict = {}
    check = None
    if system in ("tensorkeep", "tensorkeep_durable"):
        if op == "save":
            fn = _tk_save(data, d, fsync=(system == "tensorkeep_durable"))
        elif op == "restore":
            fn, check = _tk_restore(d), True
        elif op == "restore_copy":
            fn, check = _tk_restore_copy(d), True
        elif op == "restore_into":
            fn, check = _tk_restore_into(d, data), True
        elif op == "open_list":
            import tensorkeep as tk

            load = tk.load
            fn = lambda: list(load(os.path.join(d, "ckpt")))  # noqa: E731
        elif op == "read_one":
            import tensorkeep as tk

            name = max(data, key=lambda k: data[k].nbytes)
            extra["tensor_bytes"] = int(data[name].nbytes)

            load = tk.load

            def fn():  # type: ignore[no-untyped-def]
                ck = load(os.path.join(d, "ckpt"))
                a = np.empty(ck.shape(name), ck.dtype(name).numpy)
                return ck.read_into(name, a)
        elif op == "async_save":
            import tensorkeep as tk

            prefix = os.path.join(d, "ckpt")
            box: dict = {}
            save = tk.save

            def fn():  # type: ignore[no-untyped-def]
                handle = save(data, prefix, fsync=False, blocking=False)
                box["t_return"] = time.perf_counter()
                return handle
        else:
            raise ValueError(op)
    elif system == "tf1":
        fn, extra = _tf1(data, d, op)
    elif system == "tkf1":
        fn, extra = _tkf1(data, d, op)
    elif system == "tf2":
        fn, extra = _tf2(data, d, op)
    elif system == "torch":
        fn, extra = _torch(data, d, op)
    elif system == "safetensors":
        fn, extra = _safetensors(data, d, op)
    elif system == "npz":
        fn, extra = _npz(data, d, op)
    elif system in ("floor", "floor_durable"):
        fn, extra = _floor(data, d, op, durable=(system == "floor_durable"))
    else:
        raise ValueError(system)
    seconds, peak, base, result = timed(fn, warm)
    if system in ("tensorkeep",) and op == "async_save":
        t0 = time.perf_counter()
        result.wait()
        extra["wait_s"] = time.perf_counter() - t0
        extra["total_s"] = seconds + extra["wait_s"]
        extra["peak_rss_with_wait"] = _peak()
    if check:
        if prints is None:
            prints = {k: workloads.fingerprint(v) for k, v in data.items()}
        bad = [k for k, p in prints.items() if p != workloads.fingerprint(result[k])]
        if bad:
            raise SystemExit(f"wrong values restored for {bad[:3]}")
    print(json.dumps({"system": system, "workload": workload, "op": op, "seconds": seconds,
                      "bytes": nbytes, "peak_rss": peak, "base_rss": base, "extra": extra}))


if __name__ == "__main__":
    main(sys.argv[1:])
