/* tensorkeep.format._native: the format layer's per-entry loops, in C.
 *
 * Optional: tensorkeep works without it (the same loops in Python and numpy), and
 * every function here has a Python twin that the tests compare it with, on
 * well-formed and corrupt input alike. Pure functions over bytes already in memory:
 * no file access, no state.
 *
 * scan_block(data, start, limit, keys, locs) -> int
 *     Walk the block entries in data[start:limit] (an SSTable block's entries,
 *     before its restart array) while each header is three one-byte varints
 *     (shared, unshared, value length), shared is no longer than the previous key
 *     and the entry fits before limit. Appends each entry's full key (bytes) to
 *     keys and the offset of its header to locs; returns the offset where it
 *     stopped (== limit when every entry was plain). It stops, without raising, at
 *     the first entry that is not plain: the caller's checked reader takes over
 *     there and names the error. Memory used: one key buffer no longer than the
 *     block (a key grows by at most the bytes its entry takes).
 *
 * decode_keys(keys) -> list[str]
 *     Each key (exactly bytes) decoded as UTF-8 with surrogateescape.
 *
 * first_unordered(keys) -> int
 *     The first i with keys[i] >= keys[i + 1] in byte order, or -1.
 *
 * encode_entry(dtype, shape, shard_id, offset, size, crc) -> bytes
 *     A BundleEntryProto without slices (format/entry.py, _encode_entry): fields in
 *     number order, each only if non-zero, minimal varints (negative values as their
 *     64-bit two's complement), crc as fixed32 (0 <= crc < 2**32).
 *
 * pack_entries(keys, values, block_size, restart_interval) -> (blocks, last_closed)
 *     A fresh SSTable builder's data blocks for sorted keys and values, each shorter
 *     than 128 bytes (format/table.py, TableBuilder._add_fresh): entry j of a block
 *     restarts a run when j % restart_interval == 0 (sharing nothing), else shares its
 *     prefix with the previous key; a block closes after the entry that brings its
 *     size estimate (entries + 4 per restart + 4) to block_size. blocks holds
 *     (first entry, end entry, entry bytes, restart offsets) per block; last_closed
 *     says whether the last block was closed. Refuses (ValueError) keys out of order
 *     or lengths of 128 or more; does not judge the caller's other rules.
 *
 * fast_rows(data, locs, names, kinds, num_files, get_map, verify) -> dict | None
 *     The bundle reader's whole-index table (bundle/reader.py, _build_fast), built
 *     entry by entry: for each plain entry at locs[i] of the index bytes data whose
 *     value is a canonical BundleEntryProto (format/entry.py, _decode_canonical: no
 *     slices, minimal varints in field order) of a dtype in kinds (enum -> (numpy
 *     dtype, itemsize, DType)), with size == itemsize * elements, shard id below
 *     num_files, and [offset, offset + size) inside get_map(shard) (a buffer, or
 *     None; called once per shard), maps names[i] to
 *     (map, offset, offset + size, unmasked CRC-32C or None, (numpy dtype, shape, DType)).
 *     Every other entry is left out, for the checked one-at-a-time path. None when
 *     a position is not an int.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>             /* first, as Python's headers ask */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static PyObject *
scan_block(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, limit;
    PyObject *keys, *locs;
    if (!PyArg_ParseTuple(args, "y*nnO!O!", &view, &start, &limit,
                          &PyList_Type, &keys, &PyList_Type, &locs))
        return NULL;
    if (start < 0 || limit < start || limit > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan_block: range outside the buffer");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)view.buf;
    char *key = PyMem_Malloc((size_t)(limit - start) + 1);
    if (key == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_ssize_t p = start, klen = 0;
    int failed = 0;
    while (limit - p >= 3) {
        unsigned int shared = data[p], unshared = data[p + 1], vlen = data[p + 2];
        Py_ssize_t q = p + 3 + (Py_ssize_t)unshared;
        if ((shared | unshared | vlen) >= 0x80 || (Py_ssize_t)shared > klen
                || q + (Py_ssize_t)vlen > limit)
            break;
        /* shared <= klen and klen + unshared <= bytes walked so far: fits in key */
        memcpy(key + shared, data + p + 3, unshared);
        klen = (Py_ssize_t)shared + (Py_ssize_t)unshared;
        PyObject *k = PyBytes_FromStringAndSize(key, klen);
        if (k == NULL) { failed = 1; break; }
        int err = PyList_Append(keys, k);
        Py_DECREF(k);
        if (err) { failed = 1; break; }
        PyObject *at = PyLong_FromSsize_t(p);
        if (at == NULL) { failed = 1; break; }
        err = PyList_Append(locs, at);
        Py_DECREF(at);
        if (err) { failed = 1; break; }
        p = q + (Py_ssize_t)vlen;
    }
    PyMem_Free(key);
    PyBuffer_Release(&view);
    if (failed)
        return NULL;
    return PyLong_FromSsize_t(p);
}

static PyObject *
decode_keys(PyObject *self, PyObject *keys)
{
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "decode_keys: a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (!PyBytes_CheckExact(k)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "decode_keys: a key that is not exactly bytes");
            return NULL;
        }
        PyObject *s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k),
                                           "surrogateescape");
        if (s == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, s);
    }
    return out;
}

static PyObject *
first_unordered(PyObject *self, PyObject *keys)
{
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "first_unordered: a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        PyObject *a = PyList_GET_ITEM(keys, i), *b = PyList_GET_ITEM(keys, i + 1);
        if (!PyBytes_CheckExact(a) || !PyBytes_CheckExact(b)) {
            PyErr_SetString(PyExc_TypeError, "first_unordered: a key that is not exactly bytes");
            return NULL;
        }
        Py_ssize_t la = PyBytes_GET_SIZE(a), lb = PyBytes_GET_SIZE(b);
        int c = memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), (size_t)(la < lb ? la : lb));
        if (c > 0 || (c == 0 && la >= lb))
            return PyLong_FromSsize_t(i);
    }
    return PyLong_FromLong(-1);
}


/* A minimal varint of at most 9 bytes (< 2**63) in b[*p:n]; 0 and *p advanced, or -1. */
static int
uvarint(const unsigned char *b, Py_ssize_t *p, Py_ssize_t n, uint64_t *out)
{
    uint64_t v = 0;
    Py_ssize_t q = *p, end = (n - q > 9) ? q + 9 : n;
    int shift = 0;
    while (q < end) {
        unsigned int c = b[q++];
        v |= (uint64_t)(c & 0x7F) << shift;
        if (c < 0x80) {
            if (c == 0 && shift)
                return -1;                      /* overlong */
            *out = v;
            *p = q;
            return 0;
        }
        shift += 7;
    }
    return -1;
}

#define MAX_DIMS 64     /* a one-byte shape field holds at most 63 dims of 2+ bytes */

typedef struct {
    uint64_t dtype, shard, offset, size;
    uint32_t crc;
    uint64_t dims[MAX_DIMS];
    int ndims;
    Py_ssize_t head_len;                        /* dtype + shape field bytes */
} entry_t;

/* _decode_canonical, field for field: 0 with e filled, or -1 (not canonical). */
static int
decode_canonical(const unsigned char *b, Py_ssize_t n, entry_t *e)
{
    Py_ssize_t p = 0;
    memset(e, 0, offsetof(entry_t, dims));
    e->ndims = 0;
    if (n > 1 && b[0] == 0x08) {
        p = 1;
        if (uvarint(b, &p, n, &e->dtype))
            return -1;
    }
    if (p + 1 >= n || b[p] != 0x12 || b[p + 1] >= 0x80)
        return -1;
    Py_ssize_t end = p + 2 + b[p + 1];
    p += 2;
    if (end > n)
        return -1;
    while (p < end) {
        if (p + 1 >= end || b[p] != 0x12)
            return -1;
        unsigned int dlen = b[p + 1];
        if (dlen == 0) {
            if (e->ndims == MAX_DIMS)
                return -1;
            e->dims[e->ndims++] = 0;
            p += 2;
            continue;
        }
        Py_ssize_t q = p + 2 + dlen;
        if (dlen >= 0x80 || q > end || b[p + 2] != 0x08)
            return -1;
        Py_ssize_t r = p + 3;
        uint64_t d;
        if (uvarint(b, &r, q, &d) || d == 0 || r != q || e->ndims == MAX_DIMS)
            return -1;
        e->dims[e->ndims++] = d;
        p = q;
    }
    e->head_len = p;
    if (p < n && b[p] == 0x18) {
        p++;
        if (uvarint(b, &p, n, &e->shard) || e->shard == 0 || e->shard >= ((uint64_t)1 << 31))
            return -1;
    }
    if (p < n && b[p] == 0x20) {
        p++;
        if (uvarint(b, &p, n, &e->offset) || e->offset == 0)
            return -1;
    }
    if (p < n && b[p] == 0x28) {
        p++;
        if (uvarint(b, &p, n, &e->size) || e->size == 0)
            return -1;
    }
    if (p + 5 == n && b[p] == 0x35) {
        e->crc = (uint32_t)b[p + 1] | ((uint32_t)b[p + 2] << 8) | ((uint32_t)b[p + 3] << 16)
                 | ((uint32_t)b[p + 4] << 24);
        p = n;
    }
    return p == n ? 0 : -1;
}

/* The shard's (map, length) from cache, asking get_map once; NULL with an error set. */
static PyObject *
shard_map(PyObject *cache, PyObject *get_map, uint64_t shard)
{
    PyObject *key = PyLong_FromUnsignedLongLong(shard);
    if (key == NULL)
        return NULL;
    PyObject *found = PyDict_GetItemWithError(cache, key);
    if (found != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        return found;                           /* borrowed */
    }
    PyObject *m = PyObject_CallOneArg(get_map, key);
    if (m == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    Py_ssize_t len = -1;
    if (m != Py_None) {
        len = PyObject_Length(m);
        if (len < 0) {
            Py_DECREF(m);
            Py_DECREF(key);
            return NULL;
        }
    }
    PyObject *pair = Py_BuildValue("(Nn)", m, len);
    if (pair == NULL || PyDict_SetItem(cache, key, pair)) {
        Py_XDECREF(pair);
        Py_DECREF(key);
        return NULL;
    }
    Py_DECREF(pair);                            /* the cache holds it */
    Py_DECREF(key);
    return pair;
}

static PyObject *
fast_rows(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *locs, *names, *kinds, *get_map;
    Py_ssize_t num_files;
    int verify;
    if (!PyArg_ParseTuple(args, "y*O!O!O!nOp", &view, &PyList_Type, &locs, &PyList_Type, &names,
                          &PyDict_Type, &kinds, &num_files, &get_map, &verify))
        return NULL;
    const unsigned char *data = (const unsigned char *)view.buf;
    Py_ssize_t len = view.len, n = PyList_GET_SIZE(locs);
    PyObject *out = NULL, *maps = NULL, *infos = NULL;
    if (num_files < 0)
        num_files = 0;
    if (PyList_GET_SIZE(names) != n) {
        PyErr_SetString(PyExc_ValueError, "fast_rows: one name per position");
        goto done;
    }
    out = PyDict_New();
    maps = PyDict_New();
    infos = PyDict_New();
    if (out == NULL || maps == NULL || infos == NULL)
        goto fail;
    entry_t e;
    /* the previous entry's dtype, shard and head, and what they looked up (borrowed) */
    PyObject *last_kind = NULL, *last_pair = NULL, *last_info = NULL;
    uint64_t last_dtype = 0, last_shard = 0;
    const unsigned char *last_head = NULL;
    Py_ssize_t last_head_len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* get_map runs Python code: never index past lists it might have shortened */
        if (i >= PyList_GET_SIZE(locs) || i >= PyList_GET_SIZE(names)) {
            PyErr_SetString(PyExc_RuntimeError, "fast_rows: positions or names changed");
            goto fail;
        }
        PyObject *loc = PyList_GET_ITEM(locs, i);
        if (!PyLong_CheckExact(loc)) {           /* a decompressed block's value */
            Py_CLEAR(out);
            out = Py_None;
            Py_INCREF(out);
            goto done;
        }
        Py_ssize_t pos = PyLong_AsSsize_t(loc);
        if (pos == -1 && PyErr_Occurred())
            goto fail;
        if (pos < 0 || len - pos < 3)
            continue;
        unsigned int unshared = data[pos + 1], vlen = data[pos + 2];
        if ((data[pos] | unshared | vlen) >= 0x80)
            continue;
        Py_ssize_t start = pos + 3 + (Py_ssize_t)unshared;
        if (start + (Py_ssize_t)vlen > len)
            continue;
        const unsigned char *b = data + start;
        if (decode_canonical(b, (Py_ssize_t)vlen, &e))
            continue;
        PyObject *kind = last_kind;                 /* borrowed, from kinds */
        if (kind == NULL || e.dtype != last_dtype) {
            PyObject *enum_ = PyLong_FromUnsignedLongLong(e.dtype);
            if (enum_ == NULL)
                goto fail;
            kind = PyDict_GetItemWithError(kinds, enum_);
            Py_DECREF(enum_);
            if (kind == NULL) {
                if (PyErr_Occurred())
                    goto fail;
                continue;
            }
            last_kind = kind;
            last_dtype = e.dtype;
        }
        if (!PyTuple_Check(kind) || PyTuple_GET_SIZE(kind) != 3) {
            PyErr_SetString(PyExc_TypeError, "fast_rows: kinds values are (dtype, itemsize, DType)");
            goto fail;
        }
        Py_ssize_t itemsize = PyLong_AsSsize_t(PyTuple_GET_ITEM(kind, 1));
        if (itemsize < 0) {
            if (PyErr_Occurred())
                goto fail;
            continue;
        }
        /* elements * itemsize, refused past 2**62 (no overflow) */
        uint64_t nbytes = (uint64_t)itemsize;
        int too_big = 0;
        for (int k = 0; k < e.ndims; k++) {
            uint64_t d = e.dims[k];
            if (d == 0) { nbytes = 0; too_big = 0; break; }
            if (nbytes > ((uint64_t)1 << 62) / d) too_big = 1;
            else nbytes *= d;
        }
        if (too_big || nbytes >= ((uint64_t)1 << 62) || nbytes != e.size
                || e.shard >= (uint64_t)num_files)
            continue;
        PyObject *pair = last_pair;                 /* borrowed, from maps */
        if (pair == NULL || e.shard != last_shard) {
            pair = shard_map(maps, get_map, e.shard);
            if (pair == NULL)
                goto fail;
            last_pair = pair;
            last_shard = e.shard;
        }
        Py_ssize_t mlen = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if (mlen < 0 || e.offset > (uint64_t)mlen || e.size > (uint64_t)mlen - e.offset)
            continue;
        /* (numpy dtype, shape, DType), one per distinct head; most entries repeat the
           previous entry's head */
        PyObject *info = NULL;
        if (last_info != NULL && e.head_len == last_head_len
                && memcmp(b, last_head, (size_t)e.head_len) == 0) {
            info = last_info;
            goto have_info;
        }
        PyObject *head = PyBytes_FromStringAndSize((const char *)b, e.head_len);
        if (head == NULL)
            goto fail;
        info = PyDict_GetItemWithError(infos, head);
        if (info == NULL) {
            if (PyErr_Occurred()) { Py_DECREF(head); goto fail; }
            PyObject *shape = PyTuple_New(e.ndims);
            if (shape == NULL) { Py_DECREF(head); goto fail; }
            for (int k = 0; k < e.ndims; k++) {
                PyObject *d = PyLong_FromUnsignedLongLong(e.dims[k]);
                if (d == NULL) { Py_DECREF(shape); Py_DECREF(head); goto fail; }
                PyTuple_SET_ITEM(shape, k, d);
            }
            info = PyTuple_Pack(3, PyTuple_GET_ITEM(kind, 0), shape, PyTuple_GET_ITEM(kind, 2));
            Py_DECREF(shape);
            if (info == NULL || PyDict_SetItem(infos, head, info)) {
                Py_XDECREF(info); Py_DECREF(head); goto fail;
            }
            Py_DECREF(info);                    /* infos holds it */
        }
        Py_DECREF(head);
        last_info = info;                           /* borrowed, from infos */
        last_head = b;
        last_head_len = e.head_len;
have_info:;
        PyObject *crc;
        if (verify) {
            uint32_t rot = e.crc - 0xA282EAD8u;                  /* unmask */
            crc = PyLong_FromUnsignedLong((unsigned long)((rot >> 17) | (rot << 15)));
        } else {
            crc = Py_None;
            Py_INCREF(crc);
        }
        if (crc == NULL)
            goto fail;
        PyObject *row = PyTuple_New(5);
        PyObject *lo = PyLong_FromUnsignedLongLong(e.offset);
        PyObject *hi = PyLong_FromUnsignedLongLong(e.offset + e.size);
        if (row == NULL || lo == NULL || hi == NULL) {
            Py_XDECREF(row); Py_XDECREF(lo); Py_XDECREF(hi); Py_DECREF(crc);
            goto fail;
        }
        PyObject *m = PyTuple_GET_ITEM(pair, 0);
        Py_INCREF(m);
        Py_INCREF(info);
        PyTuple_SET_ITEM(row, 0, m);
        PyTuple_SET_ITEM(row, 1, lo);
        PyTuple_SET_ITEM(row, 2, hi);
        PyTuple_SET_ITEM(row, 3, crc);
        PyTuple_SET_ITEM(row, 4, info);
        int err = PyDict_SetItem(out, PyList_GET_ITEM(names, i), row);
        Py_DECREF(row);
        if (err)
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(maps);
    Py_XDECREF(infos);
    PyBuffer_Release(&view);
    return out;
}


static unsigned char *
put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static int
varint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#define ENTRY_STACK_DIMS 64

static PyObject *
encode_entry(PyObject *self, PyObject *args)
{
    long long dtype, shard, offset, size, crc;
    PyObject *shape;
    if (!PyArg_ParseTuple(args, "LOLLLL", &dtype, &shape, &shard, &offset, &size, &crc))
        return NULL;
    if (crc < 0 || crc > 0xFFFFFFFFLL) {
        PyErr_SetString(PyExc_ValueError, "encode_entry: crc outside 0 <= crc < 2**32");
        return NULL;
    }
    PyObject *dims = PySequence_Fast(shape, "encode_entry: shape is a sequence of ints");
    if (dims == NULL)
        return NULL;
    Py_ssize_t ndim = PySequence_Fast_GET_SIZE(dims);
    /* head <= 22 bytes (room kept before the shape), 13 per dim, tail <= 38 */
    unsigned char stack[22 + 13 * ENTRY_STACK_DIMS + 40];
    unsigned char *buf = stack;
    if (ndim > ENTRY_STACK_DIMS) {
        buf = PyMem_Malloc((size_t)(22 + 13 * ndim + 40));
        if (buf == NULL) {
            Py_DECREF(dims);
            return PyErr_NoMemory();
        }
    }
    /* the shape field's bytes go after room for its tag and (at most 10-byte) length */
    unsigned char *sb = buf + 11 + 11, *p = sb;
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < ndim; k++) {
        long long d = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(dims, k));
        if (d == -1 && PyErr_Occurred())
            goto done;
        *p++ = 0x12;
        if (d == 0) {
            *p++ = 0x00;
            continue;
        }
        *p++ = (unsigned char)(varint_len((uint64_t)d) + 1);
        *p++ = 0x08;
        p = put_varint(p, (uint64_t)d);
    }
    Py_ssize_t slen = p - sb;
    /* head, written right before the shape bytes: [08 dtype] 12 len */
    unsigned char head[24], *h = head;
    if (dtype) {
        *h++ = 0x08;
        h = put_varint(h, (uint64_t)dtype);
    }
    *h++ = 0x12;
    h = put_varint(h, (uint64_t)slen);
    Py_ssize_t hlen = h - head;
    unsigned char *start = sb - hlen;
    memcpy(start, head, (size_t)hlen);
    if (shard) { *p++ = 0x18; p = put_varint(p, (uint64_t)shard); }
    if (offset) { *p++ = 0x20; p = put_varint(p, (uint64_t)offset); }
    if (size) { *p++ = 0x28; p = put_varint(p, (uint64_t)size); }
    if (crc) {
        uint32_t c = (uint32_t)crc;
        *p++ = 0x35;
        *p++ = (unsigned char)c;
        *p++ = (unsigned char)(c >> 8);
        *p++ = (unsigned char)(c >> 16);
        *p++ = (unsigned char)(c >> 24);
    }
    result = PyBytes_FromStringAndSize((const char *)start, p - start);
done:
    if (buf != stack)
        PyMem_Free(buf);
    Py_DECREF(dims);
    return result;
}


static int
emit_block(PyObject *blocks, Py_ssize_t a, Py_ssize_t b, const unsigned char *body,
           Py_ssize_t len, const uint32_t *restarts, Py_ssize_t nrestarts)
{
    PyObject *rs = PyList_New(nrestarts);
    if (rs == NULL)
        return -1;
    for (Py_ssize_t r = 0; r < nrestarts; r++) {
        PyObject *v = PyLong_FromUnsignedLong(restarts[r]);
        if (v == NULL) {
            Py_DECREF(rs);
            return -1;
        }
        PyList_SET_ITEM(rs, r, v);
    }
    PyObject *item = Py_BuildValue("(nny#N)", a, b, (const char *)body, len, rs);
    if (item == NULL)
        return -1;
    int err = PyList_Append(blocks, item);
    Py_DECREF(item);
    return err;
}

static PyObject *
pack_entries(PyObject *self, PyObject *args)
{
    PyObject *keys, *values;
    Py_ssize_t block_size, interval;
    if (!PyArg_ParseTuple(args, "O!O!nn", &PyList_Type, &keys, &PyList_Type, &values,
                          &block_size, &interval))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(values) != n || interval < 1 || block_size < 1) {
        PyErr_SetString(PyExc_ValueError, "pack_entries: one value per key, interval and block size >= 1");
        return NULL;
    }
    /* a block holds under block_size bytes before its last entry (<= 257 bytes), and
       never more than all the entries (n <= list size, so n * 257 does not overflow) */
    Py_ssize_t total = n * 257 + 512;
    Py_ssize_t cap = block_size < total - 512 ? block_size + 512 : total;
    unsigned char *body = PyMem_Malloc((size_t)cap);
    Py_ssize_t rcap = 64;
    uint32_t *restarts = PyMem_Malloc(sizeof(uint32_t) * (size_t)rcap);
    PyObject *blocks = PyList_New(0), *result = NULL;
    if (body == NULL || restarts == NULL || blocks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t len = 0, nrestarts = 0, j = 0, a = 0;
    int closed = 0;
    const char *prev = NULL;
    Py_ssize_t prev_len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i), *v = PyList_GET_ITEM(values, i);
        if (!PyBytes_CheckExact(k) || !PyBytes_CheckExact(v)) {
            PyErr_SetString(PyExc_TypeError, "pack_entries: keys and values are bytes");
            goto done;
        }
        Py_ssize_t klen = PyBytes_GET_SIZE(k), vlen = PyBytes_GET_SIZE(v);
        const char *kp = PyBytes_AS_STRING(k);
        if (klen >= 0x80 || vlen >= 0x80) {
            PyErr_SetString(PyExc_ValueError, "pack_entries: a key or value of 128 bytes or more");
            goto done;
        }
        if (prev != NULL) {
            Py_ssize_t m = prev_len < klen ? prev_len : klen;
            int c = memcmp(prev, kp, (size_t)m);
            if (c > 0 || (c == 0 && prev_len >= klen)) {
                PyErr_SetString(PyExc_ValueError, "pack_entries: keys out of order");
                goto done;
            }
        }
        Py_ssize_t shared = 0;
        if (j % interval == 0) {
            if (nrestarts == rcap) {
                rcap *= 2;
                uint32_t *grown = PyMem_Realloc(restarts, sizeof(uint32_t) * (size_t)rcap);
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                restarts = grown;
            }
            restarts[nrestarts++] = (uint32_t)len;
        } else {
            Py_ssize_t m = prev_len < klen ? prev_len : klen;
            while (shared < m && prev[shared] == kp[shared])
                shared++;
        }
        /* len < block_size here (else the block closed) and this entry is <= 257 bytes */
        body[len++] = (unsigned char)shared;
        body[len++] = (unsigned char)(klen - shared);
        body[len++] = (unsigned char)vlen;
        memcpy(body + len, kp + shared, (size_t)(klen - shared));
        len += klen - shared;
        memcpy(body + len, PyBytes_AS_STRING(v), (size_t)vlen);
        len += vlen;
        j++;
        prev = kp;
        prev_len = klen;
        closed = len + 4 * nrestarts + 4 >= block_size;
        if (closed) {
            if (emit_block(blocks, a, i + 1, body, len, restarts, nrestarts))
                goto done;
            a = i + 1;
            len = nrestarts = j = 0;
        }
    }
    if (!closed && n > 0 && emit_block(blocks, a, n, body, len, restarts, nrestarts))
        goto done;
    result = Py_BuildValue("(OO)", blocks, closed ? Py_True : Py_False);
done:
    PyMem_Free(body);
    PyMem_Free(restarts);
    Py_XDECREF(blocks);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_block", scan_block, METH_VARARGS,
     "scan_block(data, start, limit, keys, locs) -> offset where the walk stopped"},
    {"decode_keys", decode_keys, METH_O, "decode_keys(keys) -> list of str (UTF-8, surrogateescape)"},
    {"first_unordered", first_unordered, METH_O,
     "first_unordered(keys) -> first i with keys[i] >= keys[i + 1], or -1"},
    {"encode_entry", encode_entry, METH_VARARGS,
     "encode_entry(dtype, shape, shard_id, offset, size, crc) -> bytes"},
    {"pack_entries", pack_entries, METH_VARARGS,
     "pack_entries(keys, values, block_size, restart_interval) -> (blocks, last_closed)"},
    {"fast_rows", fast_rows, METH_VARARGS,
     "fast_rows(data, locs, names, kinds, num_files, get_map, verify) -> dict or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The format layer's per-entry loops in C (optional; see format/table.py, entry.py).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    return PyModule_Create(&module);
}
